/**
 * A progress line for benchmarks that run longer than a few seconds.
 *
 * A silent run of 20 s looks hung. The line goes to stderr, so stdout holds only the report, and
 * is rewritten in place with `\r`, at most ten times a second (a write per step would cost
 * more than some steps). It shows only when stderr is a terminal: in a log file or CI output,
 * carriage-return frames are noise. `done()` erases it before the report is printed.
 */

const MIN_INTERVAL_MS = 100;

export class Progress {
  readonly #title: string;
  readonly #started = Date.now();
  readonly #visible = process.stderr.isTTY === true;
  #lastDraw = 0;

  /** A progress line whose every frame starts with `title`. */
  constructor(title: string) {
    this.#title = title;
  }

  /** Shows `step` (what runs now) with the time elapsed; throttled unless `force` is set. */
  update(step: string, force = false): void {
    if (!this.#visible) return;
    const now = Date.now();
    if (!force && now - this.#lastDraw < MIN_INTERVAL_MS) return;
    this.#lastDraw = now;
    const seconds = ((now - this.#started) / 1000).toFixed(1);
    const line = `${this.#title} [${seconds} s] ${step}`;
    const width = process.stderr.columns || 80;
    process.stderr.write(`\r${line.slice(0, width - 1)}\x1b[K`);
  }

  /** Erases the line. */
  done(): void {
    if (this.#visible) process.stderr.write('\r\x1b[K');
  }
}
