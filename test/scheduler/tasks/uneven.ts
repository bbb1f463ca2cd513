// Registers an extra task on one worker only: the registries then differ.
import { workerData } from 'node:worker_threads';
import { task } from '@weft/scheduler';

task('everywhere', () => 1);
if ((workerData as { index?: number } | undefined)?.index === 1) task('onlyOnWorker1', () => 2);
