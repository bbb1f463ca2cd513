// The worker module of piscina and tinypool in bench/steal.ts: named task functions.
import { fib as plainFib } from '../../tasks/fib.ts';

export function noop(x) {
  return x;
}

export function fib(n) {
  return plainFib(n);
}

export default noop;
