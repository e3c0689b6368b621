import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimateM4, visibleRange } from '../../media/monitor/decimate.js';

function series(n: number, f: (i: number) => number): { x: Float64Array; y: Float64Array } {
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = i;
    y[i] = f(i);
  }
  return { x, y };
}

/** A deterministic noisy loss with spikes. */
const noisy = (i: number) => 1 / (1 + i / 1000) + 0.05 * Math.sin(i * 12.9898) + (i % 7919 === 0 ? 3 : 0);

test('decimation keeps the first, last, min and max of every pixel column', () => {
  const n = 100_000;
  const { x, y } = series(n, noisy);
  const cols = 500;
  const d = decimateM4(x, y, 0, n, 0, n - 1, cols);
  assert.ok(d.length <= 4 * cols, `${d.length} points for ${cols} columns`);
  const kept = new Map<number, number>();
  for (let i = 0; i < d.length; i++) kept.set(d.x[i], d.y[i]);
  // Column c: xmin + c*w <= x < xmin + (c+1)*w, the last one including xmax.
  const w = (n - 1) / cols;
  const columnOf = (xi: number) => {
    let c = 0;
    while (c < cols - 1 && xi >= (c + 1) * w) c++;
    return c;
  };
  const col = new Int32Array(n);
  for (let i = 0, c = 0; i < n; i++) {
    while (c < cols - 1 && x[i] >= (c + 1) * w) c++;
    col[i] = c;
  }
  assert.equal(columnOf(n - 1), cols - 1);
  for (let c = 0; c < cols; c++) {
    let lo = -1;
    let hi = -1;
    let first = -1;
    let last = -1;
    for (let i = 0; i < n; i++) {
      if (col[i] !== c) continue;
      if (first < 0) first = i;
      last = i;
      if (lo < 0 || y[i] < y[lo]) lo = i;
      if (hi < 0 || y[i] > y[hi]) hi = i;
    }
    for (const i of [first, last, lo, hi]) assert.equal(kept.get(i), y[i], `column ${c} keeps point ${i}`);
  }
  // Every spike survives.
  for (let i = 0; i < n; i += 7919) assert.equal(kept.get(i), y[i], `spike at ${i}`);
  // Output in x order (uPlot needs it).
  for (let i = 1; i < d.length; i++) assert.ok(d.x[i] > d.x[i - 1]);
});

test('decimation is deterministic: the same data and view give the same points', () => {
  const { x, y } = series(50_000, noisy);
  const a = decimateM4(x, y, 0, 50_000, 0, 49_999, 300);
  const b = decimateM4(x, y, 0, 50_000, 0, 49_999, 300);
  assert.deepEqual([...a.x.subarray(0, a.length)], [...b.x.subarray(0, b.length)]);
  assert.deepEqual([...a.y.subarray(0, a.length)], [...b.y.subarray(0, b.length)]);
});

test('decimation passes small ranges through unchanged and skips non-finite values', () => {
  const x = Float64Array.from([0, 1, 2, 3, 4]);
  const y = Float64Array.from([5, Number.NaN, 3, Number.POSITIVE_INFINITY, 1]);
  const d = decimateM4(x, y, 0, 5, 0, 4, 100);
  assert.deepEqual([...d.x.subarray(0, d.length)], [0, 2, 4]);
  assert.deepEqual([...d.y.subarray(0, d.length)], [5, 3, 1]);
});

test('the visible range adds one point on each side, so lines reach the plot edges', () => {
  const x = Float64Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(visibleRange(x, 10, 2.5, 6.5), [2, 8]);
  assert.deepEqual(visibleRange(x, 10, 3, 6), [2, 8]);
  assert.deepEqual(visibleRange(x, 10, -5, 100), [0, 10]);
  assert.deepEqual(visibleRange(x, 10, 20, 30), [9, 10]);
  // Only the first `length` points count (the arrays have spare capacity).
  assert.deepEqual(visibleRange(x, 5, 0, 100), [0, 5]);
});

test('a zoomed view decimates only what is in it, plus the neighbours', () => {
  const { x, y } = series(1_000_000, noisy);
  const [from, to] = visibleRange(x, x.length, 250_000.5, 260_000.5);
  const d = decimateM4(x, y, from, to, 250_000.5, 260_000.5, 400);
  assert.ok(d.length <= 4 * 400 + 2);
  assert.equal(d.x[0], 250_000, 'the neighbour on the left');
  assert.equal(d.x[d.length - 1], 260_001, 'the neighbour on the right');
});

// How fast: `npm run bench -- extension` (redraw of 1,002,000 points), never a timed assertion here.
test('1,000,000 points decimate into bounded output, the same into a reused buffer', () => {
  const n = 1_000_000;
  const { x, y } = series(n, noisy);
  const first = decimateM4(x, y, 0, n, 0, n - 1, 1200);
  const firstX = Array.from(first.x.subarray(0, first.length));
  for (let k = 0; k < 3; k++) {
    const d = decimateM4(x, y, 0, n, 0, n - 1, 1200, first);
    assert.ok(d.length <= 4 * 1200 && d.length >= 2 * 1200, `${d.length} points`);
    assert.deepEqual(Array.from(d.x.subarray(0, d.length)), firstX, 'a reused buffer gives the same points');
  }
});
