import test from 'ava';
import fc from 'fast-check';
import { TimerHeap } from '../../packages/timers/src/timer-heap.ts';

test('pops in deadline order, matching a sorted model under random pushes, pops and sweeps', (t) => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant('push' as const),
            deadline: fc.double({ min: 0, max: 1000, noNaN: true }),
          }),
          fc.record({ op: fc.constant('pop' as const) }),
          fc.record({
            op: fc.constant('sweep' as const),
            keepEvery: fc.integer({ min: 1, max: 3 }),
          }),
        ),
        { maxLength: 3000 },
      ),
      (ops) => {
        const heap = new TimerHeap();
        let model: { deadline: number; id: number }[] = [];
        let next = 0;
        // Ids as the timer table makes them: version * 2^32 + slot.
        const idOf = (n: number) => (1 + (n % 7)) * 2 ** 32 + n;
        for (const o of ops) {
          if (o.op === 'push') {
            heap.push(o.deadline, idOf(next));
            model.push({ deadline: o.deadline, id: idOf(next) });
            next++;
          } else if (o.op === 'pop') {
            if (model.length === 0) continue;
            const smallest = Math.min(...model.map((m) => m.deadline));
            if (heap.pop() !== smallest) return false;
            const at = model.findIndex((m) => m.id === heap.poppedId);
            if (at < 0 || model[at].deadline !== smallest) return false;
            model.splice(at, 1);
          } else {
            heap.sweep((id) => (id >>> 0) % o.keepEvery === 0);
            model = model.filter((m) => (m.id >>> 0) % o.keepEvery === 0);
          }
          if (heap.size !== model.length) return false;
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});
