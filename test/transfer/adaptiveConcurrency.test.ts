import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AdaptiveConcurrency } from '../../src/core/transfer/AdaptiveConcurrency.js';

const MiB = 1024 * 1024;

/**
 * A synthetic link: with `limit` parts in flight, parts complete `limit` times a second and
 * the link moves rateAt(limit) bytes a second. Drives the controller for `windows` measurement
 * windows; returns the limit each window ran at.
 */
function drive(c: AdaptiveConcurrency, windows: number, rateAt: (limit: number, w: number) => number, start = { t: 0, moved: 0 }): { t: number; moved: number; limits: number[] } {
  let { t, moved } = start;
  const limits: number[] = [];
  if (t === 0) c.begin(t, moved);
  for (let w = 0; w < windows; w++) {
    const limit = c.limit;
    limits.push(limit);
    const decided = c.windows;
    while (c.windows === decided) {
      t += 1000 / limit;
      moved += rateAt(limit, w) / limit;
      c.onItemDone(t, moved);
    }
  }
  return { t, moved, limits };
}

const capped = (perPart: number, aggregate: number) => (limit: number): number => Math.min(limit * perPart, aggregate);

describe('AdaptiveConcurrency', () => {
  test('starts at 2 and doubles while throughput keeps rising', () => {
    const c = new AdaptiveConcurrency({ itemBytes: 8 * MiB });
    assert.equal(c.limit, 2);
    const { limits } = drive(c, 4, capped(8 * MiB, 1000 * MiB));
    assert.deepEqual(limits, [2, 4, 8, 16]);
    assert.equal(c.phase, 'probing');
  });

  test('stops at the knee: a doubling that brings less than 10 % is undone', () => {
    // 8 MiB/s per part, 100 MiB/s for the link: 8 parts move 64, 16 move 100 (+56 %), 32 still 100.
    const c = new AdaptiveConcurrency({ itemBytes: 4 * MiB });
    const { limits } = drive(c, 8, capped(8 * MiB, 100 * MiB));
    assert.deepEqual(limits.slice(0, 5), [2, 4, 8, 16, 32]);
    assert.equal(c.phase, 'steady');
    assert.ok(limits.slice(5).every((l) => l === 16), `held at the knee: ${limits.join(',')}`);
    assert.equal(c.history.find((h) => h.why === 'knee')?.limit, 16);
  });

  test('on loopback (no gain past 2 parts) it stays at 2', () => {
    const c = new AdaptiveConcurrency({ itemBytes: 8 * MiB });
    const { limits } = drive(c, 6, () => 500 * MiB);
    assert.deepEqual(limits.slice(0, 2), [2, 4]);
    assert.ok(limits.slice(2).every((l) => l === 2), limits.join(','));
  });

  test('halves on a slow-down, once for a burst of them, and then holds', () => {
    const c = new AdaptiveConcurrency({ itemBytes: 8 * MiB });
    const s = drive(c, 4, capped(8 * MiB, 1000 * MiB));
    assert.equal(c.limit, 32);
    c.onCongestion(s.t, s.moved);
    assert.equal(c.limit, 16);
    for (let i = 0; i < 10; i++) c.onCongestion(s.t + 10 * i, s.moved);
    assert.equal(c.limit, 16, 'the burst of refusals from one overload is one signal');
    c.onCongestion(s.t + 1000, s.moved);
    assert.equal(c.limit, 8, 'a later refusal halves again');
    assert.equal(c.phase, 'steady');
    const next = drive(c, 3, capped(8 * MiB, 1000 * MiB), s);
    assert.ok(next.limits.every((l) => l === 8), `no doubling after congestion: ${next.limits.join(',')}`);
    for (let i = 0; i < 8; i++) c.onCongestion(next.t + 1000 * (i + 1), next.moved);
    assert.equal(c.limit, 1, 'never below 1');
  });

  test('in steady state it probes upward now and then, and keeps the probe when it pays', () => {
    const c = new AdaptiveConcurrency({ itemBytes: 8 * MiB, reprobeEvery: 3 });
    // The link is narrow (20 MiB/s) for 10 windows, then wide.
    const rate = (limit: number, w: number): number => Math.min(limit * 8 * MiB, (w < 10 ? 20 : 1000) * MiB);
    const { limits } = drive(c, 20, rate);
    assert.ok(limits.slice(3, 10).every((l) => l <= 5), `held near the knee of the narrow link (4 parts: 2 move 16 MiB/s, 4 move 20): ${limits.join(',')}`);
    assert.ok(Math.max(...limits.slice(10)) >= 8, `found the wider link again: ${limits.join(',')}`);
    assert.ok(c.history.some((h) => h.why === 'probe'));
    assert.ok(c.history.some((h) => h.why === 'revert'), 'a probe that did not pay was undone');
  });

  test('respects the maximum and the memory bound (parts in flight x part size)', () => {
    const big = new AdaptiveConcurrency({ itemBytes: 64 * MiB });
    assert.equal(big.max, 4, '256 MiB / 64 MiB parts');
    drive(big, 6, capped(8 * MiB, 1000 * MiB));
    assert.equal(big.limit, 4);
    const small = new AdaptiveConcurrency({ itemBytes: 1 * MiB, max: 12 });
    const { limits } = drive(small, 8, capped(8 * MiB, 1000 * MiB));
    assert.equal(Math.max(...limits), 12);
    const huge = new AdaptiveConcurrency({ itemBytes: 512 * MiB });
    assert.equal(huge.limit, 1);
    assert.equal(huge.max, 1);
  });

  test('a window needs `limit` completions and the minimum time: a burst of fast completions decides nothing', () => {
    const c = new AdaptiveConcurrency({ itemBytes: 8 * MiB, minWindowMs: 500 });
    c.begin(0, 0);
    c.onItemDone(10, 8 * MiB);
    c.onItemDone(20, 16 * MiB);
    assert.equal(c.limit, 2);
    assert.equal(c.history.length, 0);
    c.onItemDone(600, 24 * MiB);
    assert.equal(c.limit, 4);
  });
});
