import { AppError, isAppError } from '../errors.js';
import { AdaptiveConcurrency, type AdaptiveConcurrencyOptions } from './AdaptiveConcurrency.js';
import { Outage, unreachableOf, type OutageWaiting } from './outage.js';
import { abortError, classifyFailure, gaveUp, isPaused, retryDelay, type FailureDetails, type FailureKind, type RetryPolicy } from './retry.js';

/**
 * The coordination half of a transfer (uppy's RateLimitedQueue + MultipartUploader queue logic):
 * items (parts, ranges) are pending, in flight or done; at most `limit` run at once; failures are
 * classified and retried on the shared schedule (an item's tries count since the queue last
 * finished an item); 429/503 narrow the whole queue (halve the limit,
 * then +1 per success) and hold it back; an item whose bytes stop moving for `stallTimeoutMs` is
 * aborted and retried. With `concurrency: 'auto'` the limit is AdaptiveConcurrency's instead
 * (grown while throughput rises, halved on slow-downs, 5xx and stalls). An endpoint that does
 * not answer holds the whole queue (outage.ts): one item probes it on a capped backoff, no try is
 * counted, and every item goes again once it answers. It does no I/O itself: `run` does, with
 * the signal and byte counter given.
 *
 * `run(signal)` is one epoch: it resolves 'done' when every item is done, 'paused' when the
 * signal was aborted with PAUSED (done items stay done; call run again to go on), and rejects
 * with the first fatal failure or the abort reason, always after every in-flight item settled.
 */
export interface QueueItem {
  readonly id: number;
  readonly size: number;
}

export interface RunContext {
  signal: AbortSignal;
  /** 1 for the first try of this item. */
  attempt: number;
  /** The previous try failed on an expired URL: re-sign before sending. */
  refreshUrl: boolean;
  /** Report bytes that moved (handed to the socket, or written to disk). */
  onBytes(n: number): void;
}

export interface RetryInfo<T> {
  item: T;
  kind: FailureKind;
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface PartQueueOptions<T extends QueueItem> {
  /** Items in flight at most, or 'auto': adapted to the measured throughput (AdaptiveConcurrency). */
  concurrency: number | 'auto';
  /** Tuning of 'auto' (defaults in AdaptiveConcurrency). */
  adaptive?: Omit<AdaptiveConcurrencyOptions, 'itemBytes'>;
  retry: RetryPolicy;
  stallTimeoutMs: number;
  run(item: T, ctx: RunContext): Promise<void>;
  onRetry?(info: RetryInfo<T>): void;
  /** Called whenever bytes move or an item finishes. */
  onProgress?(): void;
  random?: () => number;
  /** Most slow-downs in a row (no success between) before giving up. Default 4 x maxAttempts. */
  maxSlowDowns?: number;
  /** What an item is called in errors ("part 27 failed after 6 tries: ..."). Default 'item'. */
  itemName?: string;
  /** Most URL refreshes per item. Default 3. */
  maxRefreshes?: number;
  /** Fail after waiting this long for an endpoint that does not answer (ms). Default 1 hour. */
  outageLimitMs?: number;
  /** The queue started waiting for an endpoint (or its reason changed), or stopped (undefined). */
  onWaiting?(w: OutageWaiting | undefined): void;
}

interface Entry<T> {
  item: T;
  state: 'pending' | 'inflight' | 'done';
  /** Failed tries since the queue last finished an item (see `fail`). */
  attempts: number;
  /** `completed` at this item's last failed try. */
  failedAt: number;
  refreshes: number;
  refreshUrl: boolean;
  notBefore: number;
  sent: number;
  lastBytesAt: number;
  ctl?: AbortController;
}

export class PartQueue<T extends QueueItem> {
  private readonly entries: Entry<T>[];
  private limit: number;
  /** Set with concurrency 'auto': it owns the limit. */
  readonly adaptive?: AdaptiveConcurrency;
  private slowUntil = 0;
  private slowStreak = 0;
  private doneBytes = 0;
  /** Items finished by run() (not markDone): the transfer's progress, which resets every item's tries. */
  private completed = 0;
  /** Sum of `sent` over the items in flight, kept as it changes (read on every chunk). */
  private inflightSent = 0;
  private running = false;
  /** Bytes moved in total, resends included (monotonic: the network rate). */
  bytesMoved = 0;
  /** Tries that failed and were retried, by kind (for tests and logs). */
  readonly retries: Record<FailureKind, number> = { retry: 0, slow_down: 0, refresh_url: 0, fatal: 0, aborted: 0, unreachable: 0 };
  private readonly outage: Outage;

  constructor(
    items: T[],
    private readonly o: PartQueueOptions<T>,
  ) {
    this.entries = [...items].sort((a, b) => a.id - b.id).map((item) => ({ item, state: 'pending', attempts: 0, failedAt: 0, refreshes: 0, refreshUrl: false, notBefore: 0, sent: 0, lastBytesAt: 0 }));
    if (o.concurrency === 'auto') {
      this.adaptive = new AdaptiveConcurrency({ ...o.adaptive, itemBytes: Math.max(1, ...items.map((i) => i.size)) });
      this.limit = this.adaptive.limit;
    } else this.limit = Math.max(1, o.concurrency);
    this.outage = new Outage({ limitMs: o.outageLimitMs, onChange: (w) => o.onWaiting?.(w), random: o.random });
  }

  /** The endpoint this queue is waiting for, while it waits. */
  get waiting(): OutageWaiting | undefined {
    return this.outage.waiting;
  }

  /** Bytes of done items plus bytes moved so far by items in flight. */
  get bytesDone(): number {
    return this.doneBytes + this.inflightSent;
  }

  private setSent(e: Entry<T>, sent: number): void {
    this.inflightSent += sent - e.sent;
    e.sent = sent;
  }

  /** Items in flight at most right now (the adaptive limit with 'auto'). */
  get currentLimit(): number {
    return this.adaptive?.limit ?? this.limit;
  }

  /** Marks an item done without running it (already on the remote side). */
  markDone(id: number): void {
    const e = this.entries.find((x) => x.item.id === id);
    if (!e || e.state === 'done') return;
    if (e.state === 'inflight') throw new Error('markDone on an item in flight');
    e.state = 'done';
    this.doneBytes += e.item.size;
  }

  isDone(id: number): boolean {
    return this.entries.some((e) => e.item.id === id && e.state === 'done');
  }

  get allDone(): boolean {
    return this.entries.every((e) => e.state === 'done');
  }

  run(signal: AbortSignal): Promise<'done' | 'paused'> {
    if (this.running) return Promise.reject(new Error('PartQueue.run is already running'));
    this.running = true;
    return new Promise<'done' | 'paused'>((resolve, reject) => {
      const epoch = new AbortController();
      let fatal: unknown;
      let inflight = 0;
      let finished = false;
      let wake: ReturnType<typeof setTimeout> | undefined;
      const onOuter = (): void => epoch.abort(signal.reason);
      signal.addEventListener('abort', onOuter, { once: true });
      if (signal.aborted) epoch.abort(signal.reason);
      const stallEvery = Math.max(20, Math.min(1000, Math.floor(this.o.stallTimeoutMs / 4)));
      const stallTimer = setInterval(() => this.checkStalls(), stallEvery);

      const settle = (): void => {
        if (finished || inflight > 0) return;
        finished = true;
        this.running = false;
        clearInterval(stallTimer);
        if (wake) clearTimeout(wake);
        signal.removeEventListener('abort', onOuter);
        this.outage.end();
        if (fatal !== undefined) reject(fatal);
        else if (epoch.signal.aborted) {
          if (isPaused(epoch.signal.reason)) resolve('paused');
          else reject(abortError(epoch.signal));
        } else resolve('done');
      };

      const fail = (e: Entry<T>, err: unknown): void => {
        e.state = 'pending';
        const sentBefore = e.sent;
        this.setSent(e, 0);
        if (epoch.signal.aborted) return; // paused, cancelled, or another item failed: not this item's fault
        const reason: unknown = e.ctl?.signal.aborted ? e.ctl.signal.reason : err;
        let kind = classifyFailure(reason);
        if (kind === 'aborted') kind = 'fatal'; // an abort nobody asked for
        const unreachable = kind === 'unreachable' ? unreachableOf(reason, sentBefore) : undefined;
        if (kind === 'unreachable' && !unreachable) kind = 'retry'; // reset mid-body: the server was there
        // An answer (any status) ends a wait; a reset or stall says nothing either way.
        if (kind !== 'unreachable' && isAppError(reason) && reason.details?.status !== undefined) this.outage.answered();
        const now = Date.now();
        let delayMs = 0;
        if (kind === 'unreachable') {
          try {
            e.notBefore = this.outage.failed(unreachable!);
            delayMs = Math.max(0, e.notBefore - now);
          } catch (gaveUpWaiting) {
            fatal = gaveUpWaiting;
          }
        } else if (kind === 'refresh_url') {
          if (++e.refreshes > (this.o.maxRefreshes ?? 3)) kind = 'fatal';
          else {
            e.refreshUrl = true;
            e.notBefore = now;
          }
        } else if (kind === 'slow_down') {
          this.slowStreak++;
          if (this.slowStreak > (this.o.maxSlowDowns ?? 4 * this.o.retry.maxAttempts)) {
            fatal = gaveUp(reason, `${this.o.itemName ?? 'item'} ${e.item.id} (the server kept asking to slow down)`, this.slowStreak);
          } else {
            this.adaptive?.onCongestion(now, this.bytesMoved);
            this.limit = Math.max(1, Math.floor(this.limit / 2));
            delayMs = this.o.retry.baseDelayMs * this.slowStreak + retryDelay(this.slowStreak, this.o.retry, this.o.random);
            this.slowUntil = Math.max(this.slowUntil, now + delayMs);
          }
        } else if (kind === 'retry') {
          const d = (reason instanceof AppError ? reason.details : undefined) as FailureDetails | undefined;
          // A 5xx or a stall says the path or server is overloaded; a reset or a bad digest does not.
          if (d?.stalled || (d?.status !== undefined && d.status >= 500)) this.adaptive?.onCongestion(now, this.bytesMoved);
          // Tries count since the queue last finished an item. Random faults on a link that works
          // (a reset here, a 500 there) must not add up to a give-up while other items get through:
          // a soak of 10 x 1 GiB under random faults lost an upload to "part 41 failed after 6
          // tries" although hundreds of parts went meanwhile. An item that cannot go still gives
          // up: once nothing else finishes (at the latest when it is the last one left).
          if (e.failedAt !== this.completed) e.attempts = 0;
          e.failedAt = this.completed;
          e.attempts++;
          if (e.attempts >= this.o.retry.maxAttempts) fatal = gaveUp(reason, `${this.o.itemName ?? 'item'} ${e.item.id}`, e.attempts);
          else {
            delayMs = retryDelay(e.attempts, this.o.retry, this.o.random);
            e.notBefore = now + delayMs;
          }
        }
        if (kind === 'fatal') fatal = reason;
        if (fatal !== undefined) {
          epoch.abort(fatal instanceof AppError ? fatal : new AppError('aborted', 'stopped after a failure'));
          return;
        }
        this.retries[kind]++;
        this.o.onRetry?.({ item: e.item, kind, attempt: e.attempts, delayMs, error: reason });
      };

      const launch = (e: Entry<T>): void => {
        inflight++;
        e.state = 'inflight';
        this.setSent(e, 0);
        e.lastBytesAt = Date.now();
        const ctl = new AbortController();
        e.ctl = ctl;
        const onEpoch = (): void => ctl.abort(epoch.signal.reason);
        epoch.signal.addEventListener('abort', onEpoch, { once: true });
        const ctx: RunContext = {
          signal: ctl.signal,
          attempt: e.attempts + 1,
          refreshUrl: e.refreshUrl,
          onBytes: (n) => {
            if (e.ctl !== ctl || e.state !== 'inflight') return;
            this.setSent(e, e.sent + n);
            e.lastBytesAt = Date.now();
            this.bytesMoved += n;
            this.o.onProgress?.();
          },
        };
        e.refreshUrl = false;
        let p: Promise<void>;
        try {
          p = this.o.run(e.item, ctx);
        } catch (err) {
          p = Promise.reject(err);
        }
        p.then(
          () => {
            e.state = 'done';
            this.setSent(e, 0);
            this.outage.answered();
            this.doneBytes += e.item.size;
            this.completed++;
            this.slowStreak = 0;
            if (this.adaptive) this.adaptive.onItemDone(Date.now(), this.bytesMoved);
            else if (this.limit < (this.o.concurrency as number)) this.limit++;
          },
          (err: unknown) => fail(e, err),
        )
          .finally(() => {
            epoch.signal.removeEventListener('abort', onEpoch);
            e.ctl = undefined;
            inflight--;
            this.o.onProgress?.();
            pump();
          })
          .catch(() => undefined);
      };

      const pump = (): void => {
        if (finished) return;
        if (fatal !== undefined || epoch.signal.aborted || this.allDone) return settle();
        const now = Date.now();
        // While waiting for an endpoint, one item at a time probes it, at the probe times.
        const waiting = this.outage.waiting !== undefined;
        const limit = waiting ? 1 : this.currentLimit;
        const holdUntil = Math.max(this.slowUntil, this.outage.probeAt);
        if (now >= holdUntil) {
          for (const e of this.entries) {
            if (inflight >= limit) break;
            if (e.state === 'pending' && e.notBefore <= now) launch(e);
          }
        }
        // Wake up for the earliest item that is waiting out a delay.
        let next = Infinity;
        for (const e of this.entries) if (e.state === 'pending') next = Math.min(next, Math.max(e.notBefore, holdUntil));
        if (wake) clearTimeout(wake);
        wake = undefined;
        if (next !== Infinity && next > now && inflight < limit) wake = setTimeout(pump, next - now);
      };

      epoch.signal.addEventListener('abort', () => settle(), { once: true });
      // The time before this epoch (a pause) is not the network's.
      this.adaptive?.begin(Date.now(), this.bytesMoved);
      pump();
    });
  }

  private checkStalls(): void {
    const now = Date.now();
    for (const e of this.entries) {
      if (e.state !== 'inflight' || !e.ctl || e.ctl.signal.aborted) continue;
      if (now - e.lastBytesAt >= this.o.stallTimeoutMs) {
        e.ctl.abort(new AppError('timeout', `${this.o.itemName ?? 'item'} ${e.item.id}: no bytes moved for ${(this.o.stallTimeoutMs / 1000).toFixed(1)} s`, { details: { stalled: true } }));
      }
    }
  }
}
