/**
 * A line chart as a standalone SVG file: enough to plot speed-up against worker count without a
 * plotting dependency. Series are polylines with dots; a dashed series is drawn dashed (for
 * references such as "ideal" or the machine's CPU probe).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One line of the chart. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
  color: string;
  dashed?: boolean;
}

/** A chart: axis labels, series, and where it goes (bench/results/<file>). */
export interface Chart {
  file: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const WIDTH = 680;
const HEIGHT = 400;
const MARGIN = { left: 60, right: 200, top: 40, bottom: 50 };

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Writes the chart and returns its path. */
export function writeChart(chart: Chart): string {
  const points = chart.series.flatMap((s) => s.points);
  const xMax = Math.max(...points.map((p) => p.x));
  const xMin = Math.min(...points.map((p) => p.x));
  const yMax = Math.ceil(Math.max(...points.map((p) => p.y)) * 1.1 * 2) / 2;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - xMin) / Math.max(1, xMax - xMin)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(chart.title)}</text>`,
  ];
  for (let x = xMin; x <= xMax; x++) {
    parts.push(
      `<line x1="${sx(x)}" y1="${MARGIN.top}" x2="${sx(x)}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`,
      `<text x="${sx(x)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${x}</text>`,
    );
  }
  for (let step = 0; step <= 4; step++) {
    const y = (yMax * step) / 4;
    parts.push(
      `<line x1="${MARGIN.left}" y1="${sy(y)}" x2="${MARGIN.left + plotW}" y2="${sy(y)}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 8}" y="${sy(y) + 4}" text-anchor="end">${y.toFixed(1)}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((series, i) => {
    const path = series.points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' ');
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>`,
    );
    for (const p of series.points) {
      parts.push(`<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="3" fill="${series.color}"/>`);
    }
    const ly = MARGIN.top + 10 + i * 20;
    parts.push(
      `<line x1="${WIDTH - MARGIN.right + 12}" y1="${ly}" x2="${WIDTH - MARGIN.right + 36}" y2="${ly}" stroke="${series.color}" stroke-width="2"${dash}/>`,
      `<text x="${WIDTH - MARGIN.right + 42}" y="${ly + 4}">${escapeXml(series.name)}</text>`,
    );
  });
  parts.push('</svg>');
  const dir = new URL('../results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(chart.file, dir);
  writeFileSync(file, `${parts.join('\n')}\n`);
  return fileURLToPath(file);
}
