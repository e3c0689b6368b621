import assert from 'node:assert/strict';
import { test } from 'node:test';
import { choosePartSize, partCount, partRange } from '../../src/core/parts.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

test('the requested part size is kept when the file fits in 10,000 parts', () => {
  assert.equal(choosePartSize(5 * GiB, 100 * MiB), 100 * MiB);
  assert.equal(partCount(5 * GiB, 100 * MiB), 52);
});

test('part sizes below 5 MiB are raised to 5 MiB, above 5 GiB lowered to 5 GiB', () => {
  assert.equal(choosePartSize(10 * MiB, 1), 5 * MiB);
  assert.equal(choosePartSize(10 * MiB, 6 * GiB), 5 * GiB);
});

test('the part size is raised so no file needs more than 10,000 parts', () => {
  const size = 100 * GiB;
  const part = choosePartSize(size, 5 * MiB);
  assert.ok(partCount(size, part) <= 10_000, `${partCount(size, part)} parts`);
  assert.equal(part % MiB, 0);
  assert.equal(choosePartSize(50_000 * MiB, 5 * MiB), 5 * MiB);
  assert.equal(choosePartSize(50_000 * MiB + 1, 5 * MiB), 6 * MiB);
});

test('a file that cannot fit in 10,000 parts of 5 GiB is refused', () => {
  assert.throws(() => choosePartSize(10_000 * 5 * GiB + 1, 5 * MiB), /does not fit/);
});

test('part ranges cover the file exactly, the last part shorter, an empty file one empty part', () => {
  assert.deepEqual(partRange(1, 12 * MiB, 5 * MiB), { start: 0, end: 5 * MiB });
  assert.deepEqual(partRange(3, 12 * MiB, 5 * MiB), { start: 10 * MiB, end: 12 * MiB });
  assert.equal(partCount(0, 5 * MiB), 1);
  assert.deepEqual(partRange(1, 0, 5 * MiB), { start: 0, end: 0 });
});
