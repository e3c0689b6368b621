import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Backoff, backoffDelay, DEFAULT_BACKOFF } from '../../src/core/backoff.js';
import { DEFAULT_RETRY, retryDelay } from '../../src/core/transfer/retry.js';

/** A random source that returns the given values in turn (deterministic). */
const draws = (...values: number[]): (() => number) => {
  let i = 0;
  return () => values[i++ % values.length];
};

describe('core backoff', () => {
  test('doubles from the initial delay up to the cap (no jitter)', () => {
    const opts = { initialMs: 1000, maxMs: 8000, jitter: 0 };
    assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map((n) => backoffDelay(n, opts, () => 0.5)), [1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });

  test('jitter only shortens: a delay lies in [(1 - jitter) * d, d)', () => {
    const opts = { initialMs: 1000, maxMs: 8000, jitter: 0.2 };
    assert.deepEqual([0, 1, 2, 3].map((n) => backoffDelay(n, opts, () => 0)), [800, 1600, 3200, 6400]);
    assert.deepEqual([0, 1, 2, 3].map((n) => backoffDelay(n, opts, () => 0.5)), [900, 1800, 3600, 7200]);
    assert.deepEqual([0, 1, 2, 3].map((n) => backoffDelay(n, opts, () => 0.999999)), [999, 1999, 3999, 7999]);
  });

  test('full jitter (1) draws from [0, d); a jitter outside 0..1 is clamped', () => {
    assert.deepEqual([0, 0.25, 0.999999].map((r) => backoffDelay(2, { initialMs: 100, maxMs: 1000, jitter: 1 }, () => r)), [0, 100, 399]);
    assert.equal(backoffDelay(2, { initialMs: 100, maxMs: 1000, jitter: 7 }, () => 0), 0);
    assert.equal(backoffDelay(2, { initialMs: 100, maxMs: 1000, jitter: -1 }, () => 0), 400);
  });

  test('a long outage neither overflows nor goes below the first delay (n < 0 is the first retry)', () => {
    const opts = { initialMs: 250, maxMs: 5000, jitter: 0 };
    assert.equal(backoffDelay(10_000, opts), 5000);
    assert.equal(backoffDelay(Number.MAX_SAFE_INTEGER, { initialMs: 1, maxMs: Number.MAX_VALUE, jitter: 0 }), 2 ** 30);
    assert.equal(backoffDelay(-3, opts), 250);
  });

  test('the reconnect default is sleap-rtc\'s: 1 s doubling to 30 s, a fifth jittered', () => {
    assert.deepEqual(DEFAULT_BACKOFF, { initialMs: 1000, maxMs: 30_000, jitter: 0.2 });
    assert.deepEqual([0, 4, 5, 6].map((n) => backoffDelay(n, undefined, () => 0.999999)), [999, 15_999, 29_999, 29_999]);
  });

  test('Backoff counts its retries and starts over after reset()', () => {
    const b = new Backoff({ initialMs: 250, maxMs: 5000, jitter: 0 });
    assert.deepEqual(Array.from({ length: 7 }, () => b.next()), [250, 500, 1000, 2000, 4000, 5000, 5000]);
    assert.equal(b.retries, 7);
    b.reset();
    assert.equal(b.retries, 0);
    assert.equal(b.next(), 250);
  });

  test('Backoff draws from the injected random source, one draw per delay', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 30_000, jitter: 0.2 }, draws(0, 0.5, 0));
    assert.deepEqual([b.next(), b.next(), b.next()], [800, 1800, 3200]);
  });

  test('the transfer engine\'s retryDelay is this schedule with full jitter, its attempts 1-based', () => {
    const policy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 1000 };
    for (const r of [0, 0.3, 0.999999]) {
      for (const attempt of [1, 2, 3, 4, 5, 6, 40]) {
        assert.equal(retryDelay(attempt, policy, () => r), backoffDelay(attempt - 1, { initialMs: 100, maxMs: 1000, jitter: 1 }, () => r), `attempt ${attempt}, random ${r}`);
      }
    }
    // The delays the engine had before it used this helper: floor(random * min(max, base * 2^(attempt - 1))).
    for (const attempt of [1, 3, 7, 12]) assert.equal(retryDelay(attempt, DEFAULT_RETRY, () => 0.7), Math.floor(0.7 * Math.min(20_000, 250 * 2 ** (attempt - 1))));
  });
});
