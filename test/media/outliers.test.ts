import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inlierRange, outlierRange, quantile } from '../../media/monitor/outliers.js';

test('quantile is numpy\'s linear one', () => {
  const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(quantile(s, 0.25), 3.25);
  assert.equal(quantile(s, 0.75), 7.75);
  assert.equal(quantile(s, 0.5), 5.5);
  assert.equal(quantile([4], 0.25), 4);
});

const flat = Array.from({ length: 100 }, (_, i) => 0.1 + 0.001 * (i % 10));

for (const [name, series, log, expected] of [
  // A loss near 0.1 with one spike of 50: the range stays at the loss, not 0..50.
  ['a spike does not blow up the range', [{ values: [...flat.slice(0, 50), 50, ...flat.slice(50)] }], false, [0.1, 0.109]],
  ['a spike downwards neither', [{ values: [...flat, -20] }], false, [0.1, 0.109]],
  // Two series at very different levels: each keeps its inliers, so neither is pushed off.
  ['two series far apart are both in range', [{ values: flat }, { values: flat.map((v) => v * 1000) }], false, [0.1, 109]],
  ['a series of one point is not hidden', [{ values: flat }, { values: [7] }], false, [0.1, 7]],
  ['non-finite values are ignored', [{ values: [Number.NaN, 1, 2, 3, Number.POSITIVE_INFINITY, 4] }], false, [1, 4]],
  // On a log axis the rule runs on log10: decades of decline are not outliers.
  ['log axis: a loss falling over 3 decades keeps its whole curve', [{ values: Array.from({ length: 40 }, (_, i) => 10 ** (-i / 13)) }], true, [10 ** (-39 / 13), 1]],
  ['log axis: values <= 0 are left out', [{ values: [0, -1, 0.5, 0.25, 0.125] }], true, [0.125, 0.5]],
] as const) {
  test(`ignore outliers: ${name}`, () => {
    const r = outlierRange(series.map((s) => ({ values: [...s.values] })), { log });
    assert.ok(r, 'a range');
    assert.ok(Math.abs(r[0] - expected[0]) < 1e-9 * Math.max(1, Math.abs(expected[0])), `min ${r[0]} vs ${expected[0]}`);
    assert.ok(Math.abs(r[1] - expected[1]) < 1e-9 * Math.max(1, Math.abs(expected[1])), `max ${r[1]} vs ${expected[1]}`);
  });
}

test('ignore outliers never hides a series: the range covers every series\' inliers (random-free property check)', () => {
  // Deterministic pseudo-data: 30 series, each at its own level with its own spikes.
  for (let k = 0; k < 30; k++) {
    const series = Array.from({ length: 4 }, (_, s) => ({
      values: Array.from({ length: 50 + k * 3 }, (_, i) => 10 ** ((s - 2) * (k % 4)) * (1 + 0.1 * Math.sin(i * (s + 1))) + (i % 17 === 0 ? 1e4 : 0)),
    }));
    for (const log of [false, true]) {
      const r = outlierRange(series, { log })!;
      for (const s of series) {
        const own = inlierRange(s, { log })!;
        assert.ok(own.min >= r[0] && own.max <= r[1], `series inliers [${own.min}, ${own.max}] within [${r[0]}, ${r[1]}]`);
        assert.ok(r[1] < 1e4, 'the spikes are left out');
      }
    }
  }
});

test('ignore outliers over a view: only the points in [from, to) count', () => {
  const values = [100, 100, 100, 1, 1.1, 1.2, 1.3, 1.1];
  assert.deepEqual(outlierRange([{ values, from: 3, to: 8 }]), [1, 1.3]);
});

test('ignore outliers on 1,000,000 values samples the quartiles deterministically and keeps exact bounds', () => {
  const n = 1_000_000;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = 1 + (i % 1000) / 1000 + (i % 99_991 === 0 ? 1e6 : 0);
  const a = outlierRange([{ values }]);
  assert.deepEqual(outlierRange([{ values }]), a, 'the same range every time');
  assert.deepEqual(a, [1, 1.999]);
});

test('ignore outliers with nothing drawable gives no range', () => {
  assert.equal(outlierRange([]), undefined);
  assert.equal(outlierRange([{ values: [Number.NaN] }]), undefined);
  assert.equal(outlierRange([{ values: [0, -1] }], { log: true }), undefined);
});
