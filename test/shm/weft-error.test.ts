import { ErrorCode, WeftError, WeftRangeError, WeftTypeError } from '@weft/shm';
import test from 'ava';

test('every weft error is instanceof WeftError and carries its code', (t) => {
  const plain = new WeftError(ErrorCode.CAPACITY, 'full');
  const range = new WeftRangeError(ErrorCode.OUT_OF_RANGE, 'too big');
  const type = new WeftTypeError(ErrorCode.NOT_INT32, 'not an int');
  for (const error of [plain, range, type]) t.true(error instanceof WeftError);
  t.true(range instanceof RangeError);
  t.true(type instanceof TypeError);
  t.is(plain.code, 'E_CAPACITY');
  t.is(range.code, 'E_OUT_OF_RANGE');
  t.is(type.code, 'E_NOT_INT32');
  t.is(range.name, 'WeftRangeError');
  t.is(plain.message, 'full');
});

test('foreign errors and non-errors are not WeftErrors', (t) => {
  t.false(new RangeError('x') instanceof WeftError);
  t.false((null as unknown) instanceof WeftError);
  t.false({ code: 'E_CAPACITY' } instanceof WeftError);
});

test('a subclass of WeftError keeps the ordinary instanceof check', (t) => {
  class ClosedError extends WeftError {}
  t.true(new ClosedError(ErrorCode.CAPACITY, 'x') instanceof ClosedError);
  t.false(new WeftRangeError(ErrorCode.OUT_OF_RANGE, 'x') instanceof ClosedError);
});

test('WeftError passes a cause through', (t) => {
  const cause = new Error('root');
  t.is(new WeftError(ErrorCode.CAPACITY, 'x', { cause }).cause, cause);
});
