/**
 * A thread of the "2 producers → 1 consumer" MpscQueue benchmark.
 *
 * Producer p pushes its sequence numbers 0 .. perProducer-1 encoded as `seq * producers + p`,
 * retrying while the queue is full. The consumer drains with popBatch until it has every value,
 * and checks as it goes that each producer's values arrive exactly once and in order (the queue
 * is FIFO per producer); a violation throws, which fails the benchmark.
 */
import { MpscQueue } from '@weft/shm';
import { runRounds, threadData } from '../harness/threads.ts';

export interface MpscProducersData {
  /** A producer's index, or 'consumer'. */
  role: number | 'consumer';
  producers: number;
  perProducer: number;
  buffer: SharedArrayBuffer;
  queueOffset: number;
}

const data = threadData<MpscProducersData>();
const queue = MpscQueue.attach(data.buffer, data.queueOffset);
const { producers, perProducer } = data;

function produce(producer: number): () => number {
  return () => {
    let fullRetries = 0;
    for (let seq = 0; seq < perProducer; seq++) {
      while (!queue.tryPush(seq * producers + producer)) fullRetries++;
    }
    return fullRetries;
  };
}

function consume(): number {
  const expected = new Array<number>(producers).fill(0);
  const batch = new Int32Array(64);
  let emptyPolls = 0;
  for (let taken = 0; taken < producers * perProducer; ) {
    const count = queue.popBatch(batch);
    if (count === 0) emptyPolls++;
    for (let i = 0; i < count; i++) {
      const producer = batch[i] % producers;
      const seq = (batch[i] - producer) / producers;
      if (seq !== expected[producer]) {
        throw new Error(`producer ${producer}: got #${seq}, expected #${expected[producer]}`);
      }
      expected[producer]++;
    }
    taken += count;
  }
  return emptyPolls;
}

runRounds(data.role === 'consumer' ? consume : produce(data.role));
