import {
  isWellFormedId,
  MAX_VERSION,
  makeId,
  nextVersion,
  SLOT_SPACE,
  slotOf,
  versionOf,
} from '@weft/shm';
import test from 'ava';

test('an id packs version and slot into one safe integer', (t) => {
  const id = makeId(5, 123);
  t.is(id, 5 * 2 ** 32 + 123);
  t.is(slotOf(id), 123);
  t.is(versionOf(id), 5);
  const largest = makeId(MAX_VERSION, SLOT_SPACE - 1);
  t.true(Number.isSafeInteger(largest));
  t.is(slotOf(largest), SLOT_SPACE - 1);
  t.is(versionOf(largest), MAX_VERSION);
});

test('versions run 1..2^21-1 and wrap to 1, never 0', (t) => {
  t.is(MAX_VERSION, 2 ** 21 - 1);
  t.is(nextVersion(1), 2);
  t.is(nextVersion(MAX_VERSION), 1);
});

test('isWellFormedId accepts only ids with a version in range', (t) => {
  t.true(isWellFormedId(makeId(1, 0)));
  t.true(isWellFormedId(makeId(MAX_VERSION, 7)));
  for (const bad of [
    0,
    7,
    -1,
    SLOT_SPACE - 1,
    2 ** 53,
    SLOT_SPACE + 0.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '4294967296',
    null,
    4294967296n,
  ]) {
    t.false(isWellFormedId(bad), String(bad));
  }
});
