// The worker script of workerpool in bench/steal.ts (workerpool loads CommonJS workers).
const workerpool = require('workerpool');
const { fib } = require('../../tasks/fib.ts');

workerpool.worker({ noop: (x) => x, fib: (n) => fib(n) });
