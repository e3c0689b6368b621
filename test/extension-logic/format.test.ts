import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseName, bytes, duration, loss, percent, rate } from '../../src/extension/format.js';

test('sizes in human units, never "0.0 MiB" for a small file', () => {
  assert.equal(bytes(0), '0 B');
  assert.equal(bytes(1023), '1023 B');
  assert.equal(bytes(42 * 1024), '42.0 KiB');
  assert.equal(bytes(1536), '1.50 KiB');
  assert.equal(bytes(5 * 1024 ** 3), '5.00 GiB');
  assert.equal(bytes(314616190), '300 MiB');
  assert.equal(bytes(-1), '?');
  assert.equal(rate(10 * 1024 * 1024), '10.0 MiB/s');
  assert.equal(rate(undefined), '');
});

test('durations, percents and losses', () => {
  assert.equal(duration(42), '42 s');
  assert.equal(duration(185), '3 min 5 s');
  assert.equal(duration(7800), '2 h 10 min');
  assert.equal(duration(undefined), '');
  assert.equal(percent(1, 3), '33 %');
  assert.equal(percent(5, 0), '100 %');
  assert.equal(percent(0, 0), '0 %');
  assert.equal(loss(0.012345), '0.01235');
  assert.equal(loss(6.9e-33), '6.900e-33');
  assert.equal(loss(undefined), '–');
  assert.equal(baseName('/a/b/labels.pkg.slp'), 'labels.pkg.slp');
  assert.equal(baseName('C:\\data\\x.slp'), 'x.slp');
});
