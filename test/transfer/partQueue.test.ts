import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { AppError } from '../../src/core/errors.js';
import { PartQueue, type RunContext } from '../../src/core/transfer/PartQueue.js';
import { networkFailure } from '../../src/core/transfer/httpClient.js';
import type { OutageWaiting } from '../../src/core/transfer/outage.js';
import { abortError, PAUSED, type RetryPolicy } from '../../src/core/transfer/retry.js';

interface Item {
  id: number;
  size: number;
}
const items = (n: number, size = 100): Item[] => Array.from({ length: n }, (_, i) => ({ id: i + 1, size }));
const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
const http = (status: number, s3Code?: string): AppError => new AppError('upstream_error', `HTTP ${status}`, { details: { status, ...(s3Code ? { s3_code: s3Code } : {}) } });

/** Resolves when the context's signal aborts, rejecting with its reason (what real I/O does). */
const untilAborted = (ctx: RunContext): Promise<never> => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(abortError(ctx.signal)), { once: true }));

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('PartQueue (mock timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] }));
  afterEach(() => mock.timers.reset());

  const refused = (): AppError => networkFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'part', { service: 'S3', url: 'http://127.0.0.1:9000/b/k?X-Amz-Signature=secret' });

  test('S3 refusing connections for 10 minutes costs no tries: one item probes at a time, every item goes on once it answers', async () => {
    let down = true;
    let tries = 0;
    let probesWhileDown = 0;
    let inflight = 0;
    let peakWhileDown = 0;
    const waits: (OutageWaiting | undefined)[] = [];
    const q = new PartQueue(items(4), {
      concurrency: 4,
      retry: { ...policy, maxAttempts: 2 },
      stallTimeoutMs: 30_000,
      random: () => 0.5,
      onWaiting: (w) => waits.push(w),
      run: async () => {
        tries++;
        inflight++;
        try {
          await Promise.resolve();
          if (down) {
            probesWhileDown++;
            peakWhileDown = Math.max(peakWhileDown, inflight);
            throw refused();
          }
        } finally {
          inflight--;
        }
      },
    });
    const p = q.run(new AbortController().signal);
    for (let t = 0; t < 600; t++) {
      await flush();
      mock.timers.tick(1000);
    }
    await flush();
    assert.equal(q.allDone, false, 'still waiting after 10 minutes');
    assert.deepEqual(waits.length, 1, 'one wait began');
    assert.deepEqual({ ...waits[0], since: 0 }, { service: 'S3', endpoint: 'http://127.0.0.1:9000', reason: 'ECONNREFUSED', since: 0 }, 'the endpoint without path or query');
    assert.equal(q.waiting?.reason, 'ECONNREFUSED');
    // The first four fail together; then probes on the backoff, capped at 30 s: ~20 + 5 in 10 min.
    assert.ok(probesWhileDown >= 4 + 15 && probesWhileDown <= 4 + 30, `${probesWhileDown} tries while down`);
    assert.equal(peakWhileDown, 4, 'only the first round ran in parallel');
    down = false;
    for (let t = 0; t < 40 && !q.allDone; t++) {
      await flush();
      mock.timers.tick(1000);
    }
    assert.equal(await p, 'done');
    assert.equal(waits.at(-1), undefined, 'the wait ended');
    assert.equal(q.retries.retry, 0, 'no try counted');
    assert.ok(tries > 4);
  });

  test('an endpoint down longer than outageLimitMs fails the queue with the outage error (who, how long, the setting)', async () => {
    const q = new PartQueue(items(2), {
      concurrency: 2,
      retry: policy,
      stallTimeoutMs: 30_000,
      random: () => 0.5,
      outageLimitMs: 60_000,
      run: () => Promise.reject(refused()),
    });
    const p = q.run(new AbortController().signal);
    const check = assert.rejects(p, (e: AppError) => e.code === 'unavailable' && /^S3 at http:\/\/127\.0\.0\.1:9000 was unreachable for 1 min 0 s \(ECONNREFUSED\), longer than the outage limit of 1 min 0 s \(--outage-limit <seconds> or SLEAP_RTC_OUTAGE_LIMIT\)/.test(e.message) && !/secret/.test(e.message));
    for (let t = 0; t < 70; t++) {
      await flush();
      mock.timers.tick(1000);
    }
    await check;
  });

  test('a reset after bytes went is a counted try, not an outage', async () => {
    const waits: (OutageWaiting | undefined)[] = [];
    const reset = (): AppError => networkFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'part', { service: 'S3', url: 'http://127.0.0.1:9000/b/k' });
    let n = 0;
    const q = new PartQueue(items(1), {
      concurrency: 1,
      retry: policy,
      stallTimeoutMs: 30_000,
      random: () => 0.5,
      onWaiting: (w) => waits.push(w),
      run: async (_item, ctx) => {
        ctx.onBytes(10);
        if (++n === 1) throw reset();
      },
    });
    const p = q.run(new AbortController().signal);
    for (let t = 0; t < 5; t++) {
      await flush();
      mock.timers.tick(1000);
    }
    assert.equal(await p, 'done');
    assert.equal(q.retries.retry, 1);
    assert.deepEqual(waits, []);
  });

  test("an item's tries count only since the queue last finished an item: faults here and there never add up, an item that cannot go gives up once the rest is done", async () => {
    let tries1 = 0;
    const gates = new Map<number, () => void>();
    const q = new PartQueue(items(3), {
      concurrency: 3,
      retry: policy, // 5 tries
      stallTimeoutMs: 30_000,
      random: () => 0.5,
      itemName: 'part',
      run: async (item) => {
        if (item.id === 1) {
          tries1++;
          throw http(500, 'InternalError');
        }
        await new Promise<void>((resolve) => gates.set(item.id, resolve));
      },
    });
    const p = q.run(new AbortController().signal);
    let outcome: unknown;
    p.then(
      () => (outcome = 'done'),
      (e: unknown) => (outcome = e),
    );
    const until = async (n: number): Promise<void> => {
      for (let i = 0; i < 50 && tries1 < n && outcome === undefined; i++) {
        await flush();
        mock.timers.tick(1000);
      }
      await flush();
    };
    // All three start; item 1 fails 4 times while items 2 and 3 are still sending.
    await until(4);
    assert.equal(tries1, 4);
    assert.equal(outcome, undefined, 'not given up after 4 of 5 tries');
    gates.get(2)!(); // item 2 done: item 1's tries start again
    await until(8);
    assert.equal(tries1, 8);
    assert.equal(outcome, undefined, 'not given up after 8 tries: 4 since the last item finished');
    await flush();
    gates.get(3)!(); // the last other item done
    await until(20);
    const failed = (): unknown => outcome; // read after the callbacks ran (assert.equal narrowed it to undefined)
    const e = failed();
    assert.ok(e instanceof AppError, 'gave up once nothing else could finish');
    assert.equal(e.message, 'part 1 failed after 5 tries: HTTP 500');
    assert.equal(e.details?.attempts, 5);
    assert.equal(tries1, 13, '4 + 4 + 5 tries');
  });

  test('never runs more than `concurrency` items at once, and finishes them all', async () => {
    let inflight = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const q = new PartQueue(items(10), {
      concurrency: 3,
      retry: policy,
      stallTimeoutMs: 30_000,
      run: (_item, ctx) =>
        new Promise<void>((resolve) => {
          inflight++;
          peak = Math.max(peak, inflight);
          ctx.onBytes(100);
          release.push(() => {
            inflight--;
            resolve();
          });
        }),
    });
    const p = q.run(new AbortController().signal);
    for (let i = 0; i < 10; i++) {
      await flush();
      release.shift()!();
    }
    assert.equal(await p, 'done');
    assert.equal(peak, 3);
    assert.equal(q.bytesDone, 1000);
  });

  test('a 5xx is retried after its backoff; a 4xx fails the queue after the others in flight settled', async () => {
    const tries = new Map<number, number>();
    const q = new PartQueue(items(2), {
      concurrency: 2,
      retry: policy,
      stallTimeoutMs: 30_000,
      random: () => 0.5,
      run: async (item) => {
        const n = (tries.get(item.id) ?? 0) + 1;
        tries.set(item.id, n);
        if (item.id === 1 && n === 1) throw http(500);
      },
    });
    const p = q.run(new AbortController().signal);
    await flush();
    assert.equal(tries.get(1), 1);
    mock.timers.tick(49);
    await flush();
    assert.equal(tries.get(1), 1, 'waits out the backoff (0.5 x 100 ms)');
    mock.timers.tick(1);
    await flush();
    assert.equal(await p, 'done');
    assert.equal(tries.get(1), 2);
    assert.equal(q.retries.retry, 1);

    let otherSettled = false;
    const q2 = new PartQueue(items(3), {
      concurrency: 3,
      retry: policy,
      stallTimeoutMs: 30_000,
      run: async (item, ctx) => {
        if (item.id === 2) throw http(400, 'InvalidArgument');
        try {
          await untilAborted(ctx);
        } finally {
          await Promise.resolve();
          otherSettled = true;
        }
      },
    });
    await assert.rejects(q2.run(new AbortController().signal), /HTTP 400/);
    assert.ok(otherSettled, 'rejected only after the items in flight settled');
  });

  test('a slow-down holds the whole queue back and halves the concurrency, successes widen it again', async () => {
    const started: number[] = [];
    let first = true;
    const q = new PartQueue(items(6), {
      concurrency: 4,
      retry: policy,
      stallTimeoutMs: 30_000,
      random: () => 0,
      run: async (item) => {
        started.push(item.id);
        if (first) {
          first = false;
          throw http(503, 'SlowDown');
        }
        await new Promise<void>((r) => setTimeout(r, 10));
      },
    });
    const p = q.run(new AbortController().signal);
    await flush();
    assert.deepEqual(started, [1, 2, 3, 4]);
    assert.equal(q.currentLimit, 2);
    mock.timers.tick(10); // items 2-4 finish; item 1 waits for the slow-down (100 ms), so does everything else
    await flush();
    assert.deepEqual(started, [1, 2, 3, 4], 'nothing starts while the queue is held back');
    assert.equal(q.currentLimit, 4, '+1 per success up to the configured concurrency');
    mock.timers.tick(90);
    await flush();
    assert.deepEqual(started.slice(4).sort(), [1, 5, 6]);
    mock.timers.tick(10);
    await flush();
    assert.equal(await p, 'done');
    assert.equal(q.retries.slow_down, 1);
  });

  test('an item whose bytes stop moving is aborted after stallTimeoutMs and retried', async () => {
    let tries = 0;
    const q = new PartQueue(items(1), {
      concurrency: 1,
      retry: policy,
      stallTimeoutMs: 1000,
      random: () => 0,
      run: async (_item, ctx) => {
        tries++;
        ctx.onBytes(10);
        if (tries === 1) await untilAborted(ctx); // sends 10 bytes, then nothing
      },
    });
    const p = q.run(new AbortController().signal);
    await flush();
    mock.timers.tick(750);
    await flush();
    assert.equal(tries, 1, 'not stalled yet');
    mock.timers.tick(250);
    await flush();
    mock.timers.tick(1);
    await flush();
    assert.equal(await p, 'done');
    assert.equal(tries, 2);
    assert.equal(q.retries.retry, 1);
    assert.equal(q.bytesMoved, 20, 'bytes of the stalled try still count as moved (they crossed the network)');
  });

  test('pause: items in flight stop, done items stay done, the next run does only the rest', async () => {
    const ran: number[] = [];
    const ctl = new AbortController();
    const q = new PartQueue(items(4), {
      concurrency: 2,
      retry: policy,
      stallTimeoutMs: 30_000,
      run: async (item, ctx) => {
        ran.push(item.id);
        if (item.id === 2 && ran.filter((x) => x === 2).length === 1) return untilAborted(ctx);
      },
    });
    const p = q.run(ctl.signal);
    await flush();
    ctl.abort(PAUSED);
    assert.equal(await p, 'paused');
    assert.ok(q.isDone(1) && !q.isDone(2));
    const attemptsBefore = q.retries.retry;
    assert.equal(await q.run(new AbortController().signal), 'done');
    assert.equal(q.retries.retry, attemptsBefore, 'a pause is not a failed try');
    assert.equal(ran.filter((x) => x === 1).length, 1, 'item 1 was not sent again');
  });

  test('an expired URL is retried at once with refreshUrl set, at most 3 times', async () => {
    const seen: boolean[] = [];
    const q = new PartQueue(items(1), {
      concurrency: 1,
      retry: policy,
      stallTimeoutMs: 30_000,
      run: async (_item, ctx) => {
        seen.push(ctx.refreshUrl);
        throw new AppError('forbidden', 'expired', { details: { status: 403, expired: true } });
      },
    });
    await assert.rejects(q.run(new AbortController().signal), /expired/);
    assert.deepEqual(seen, [false, true, true, true]);
  });

  test('a stop (not a pause) rejects with the abort reason', async () => {
    const ctl = new AbortController();
    const q = new PartQueue(items(1), { concurrency: 1, retry: policy, stallTimeoutMs: 30_000, run: (_i, ctx) => untilAborted(ctx) });
    const p = q.run(ctl.signal);
    await flush();
    ctl.abort(new AppError('aborted', 'stop'));
    await assert.rejects(p, /stop/);
  });
});
