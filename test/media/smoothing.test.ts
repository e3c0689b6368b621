import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmaSmoother, smooth } from '../../media/monitor/smoothing.js';

/**
 * TensorBoard's algorithm, transcribed from its vz_line_chart2 `resmoothDataset` (the one W&B
 * also documents as theirs): the reference the monitor must match.
 */
function tensorBoard(data: number[], w: number): number[] {
  let last = data.length > 0 ? 0 : Number.NaN;
  let numAccum = 0;
  const isConstant = data.every((v) => v === data[0]);
  return data.map((next) => {
    if (isConstant || !Number.isFinite(next)) return next;
    last = last * w + (1 - w) * next;
    numAccum++;
    const debias = w === 1 ? 1 : 1 - Math.pow(w, numAccum);
    return last / debias;
  });
}

function close(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) assert.ok(Number.isNaN(a), `${what}[${i}]: NaN expected, got ${a}`);
    else if (!Number.isFinite(e)) assert.equal(a, e, `${what}[${i}]`);
    else assert.ok(Math.abs(a - e) <= 1e-12 * Math.max(1, Math.abs(e)), `${what}[${i}]: ${a} vs ${e}`);
  }
}

const noisy = Array.from({ length: 200 }, (_, i) => 1 / (1 + i / 10) + 0.1 * Math.sin(i * 1.7));

for (const [name, data, w] of [
  ['a falling noisy loss, weight 0.6 (the default)', noisy, 0.6],
  ['the same at weight 0.9', noisy, 0.9],
  ['the same at weight 0.99', noisy, 0.99],
  ['NaN and infinities are passed through and skipped', [1, 2, Number.NaN, 4, Number.POSITIVE_INFINITY, 0.5, Number.NEGATIVE_INFINITY, 3], 0.6],
  ['a constant series is returned as is', [0.25, 0.25, 0.25, 0.25], 0.6],
  ['a leading NaN', [Number.NaN, 1, 2, 3], 0.5],
  ['one point', [42], 0.6],
  ['empty', [], 0.6],
] as const) {
  test(`smoothing matches TensorBoard: ${name}`, () => {
    close(smooth(data, w), tensorBoard([...data], w), name);
  });
}

test('smoothing: known values at weight 0.6 (debiased: the first point is the first value)', () => {
  // last1 = 0.4*1 = 0.4, /0.4 = 1; last2 = 0.24 + 0.8 = 1.04, /(1 - 0.36) = 1.625; last3 = 0.624 + 1.2 = 1.824, /(1 - 0.216) = 2.3265306...
  close(smooth([1, 2, 3], 0.6), [1, 1.625, 1.824 / 0.784], 'known');
});

test('smoothing weight 0 is off', () => {
  close(smooth(noisy, 0), noisy, 'off');
});

test('smoothing is incremental: appending in pieces gives what one pass gives', () => {
  const s = new EmaSmoother(0.6);
  for (let n = 0; n <= noisy.length; n += 7) s.update(noisy, Math.min(n, noisy.length));
  s.update(noisy, noisy.length);
  close(s.output.subarray(0, noisy.length), tensorBoard(noisy, 0.6), 'incremental');
});

test('smoothing: a series constant at first, then not, matches TensorBoard on the whole', () => {
  const data = [0.5, 0.5, 0.5, 0.7, 0.2, 0.4];
  const s = new EmaSmoother(0.6);
  s.update(data, 3); // constant so far: returned as is
  close(s.output.subarray(0, 3), [0.5, 0.5, 0.5], 'constant prefix');
  s.update(data, data.length);
  close(s.output.subarray(0, data.length), tensorBoard(data, 0.6), 'after it changes');
});

test('smoothing rejects weights outside [0, 1)', () => {
  assert.throws(() => new EmaSmoother(1), RangeError);
  assert.throws(() => new EmaSmoother(-0.1), RangeError);
});
