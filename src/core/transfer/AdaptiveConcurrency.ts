/**
 * How many parts (or ranges) a transfer keeps in flight when the user did not fix it: a hill
 * climb on measured throughput, so nobody has to tune `--concurrency` for their link. On a
 * high-latency path where one TCP connection gets a fraction of the link, more parts in flight
 * is what fills it; on loopback a few suffice and more only cost memory and server load.
 *
 * - Start at `start` (2). Throughput is measured per window: bytes moved over the time from the
 *   last change of the limit until at least half of `limit` items completed and `minWindowMs`
 *   passed (every slot moves bytes in it; response round trips included).
 * - Growth ('probing'): double the limit while a window is more than `gain` (10 %) faster than
 *   the one before. The first window that is not stops the climb at the knee: the limit goes
 *   back to the last one that paid off ('steady').
 * - Steady: every `reprobeEvery` windows, try 25 % more (at least 1); kept only if it pays off by
 *   `gain`, so a link that got faster (another transfer ended) is found again.
 * - Congestion (503 SlowDown, 429, any 5xx, a stalled item): halve, at most once per window (a
 *   burst of refusals from one overload is one signal), then steady from there.
 * - Bounds: never above `max` (32) nor above `memoryBytes / itemBytes` (parts in flight x part
 *   size <= 256 MiB by default), never below 1.
 *
 * Pure logic: the caller passes the time and byte counter (PartQueue does), so tests drive it
 * with synthetic completions.
 */
export interface AdaptiveConcurrencyOptions {
  /** The largest item, in bytes (for the memory bound). */
  itemBytes: number;
  /** Default 2. */
  start?: number;
  /** Default 32. */
  max?: number;
  /** Bytes of items in flight at most. Default 256 MiB. */
  memoryBytes?: number;
  /** Relative throughput gain a change must bring to be kept. Default 0.1. */
  gain?: number;
  /** Shortest measurement window. Default 500 ms. */
  minWindowMs?: number;
  /** Steady windows between two probes upward. Default 5. */
  reprobeEvery?: number;
}

export type ConcurrencyPhase = 'probing' | 'steady';

/** Parts in flight at most when the limit adapts (the sockets a transport opens for it). */
export const AUTO_MAX_CONCURRENCY = 32;
export const AUTO_MEMORY_BYTES = 256 * 1024 * 1024;

export class AdaptiveConcurrency {
  readonly max: number;
  private limitValue: number;
  private phaseValue: ConcurrencyPhase = 'probing';
  /** The limit and rate of the last window that paid off (what a failed probe returns to). */
  private best?: { limit: number; rate: number };
  private windowStart?: { t: number; moved: number };
  private completions = 0;
  /** Measurement windows decided so far. */
  windows = 0;
  private steadyWindows = 0;
  private lastCut = -Infinity;
  private readonly gain: number;
  private readonly minWindowMs: number;
  private readonly reprobeEvery: number;
  /** Every change, for logs and tests: what the limit became and why. */
  readonly history: { t: number; limit: number; why: 'grow' | 'knee' | 'probe' | 'keep' | 'revert' | 'congestion'; rate?: number }[] = [];

  constructor(o: AdaptiveConcurrencyOptions) {
    const byMemory = Math.floor((o.memoryBytes ?? AUTO_MEMORY_BYTES) / Math.max(1, o.itemBytes));
    this.max = Math.max(1, Math.min(o.max ?? AUTO_MAX_CONCURRENCY, byMemory));
    this.limitValue = Math.max(1, Math.min(this.max, o.start ?? 2));
    this.gain = o.gain ?? 0.1;
    this.minWindowMs = o.minWindowMs ?? 500;
    this.reprobeEvery = o.reprobeEvery ?? 5;
  }

  get limit(): number {
    return this.limitValue;
  }

  get phase(): ConcurrencyPhase {
    return this.phaseValue;
  }

  /** Items are moving (a run started or resumed): a window begins now. Idle time is not measured. */
  begin(now: number, moved: number): void {
    this.windowStart = { t: now, moved };
    this.completions = 0;
  }

  /** One item completed; `moved` is the transfer's byte counter (monotonic, resends included). */
  onItemDone(now: number, moved: number): void {
    if (!this.windowStart) return this.begin(now, moved);
    this.completions++;
    const dt = now - this.windowStart.t;
    // Half the slots: the items started before the last change are the ones completing first, and
    // the window still spans every slot moving bytes; a whole round of `limit` would double the ramp.
    if (this.completions < Math.ceil(this.limitValue / 2) || dt < this.minWindowMs) return;
    const rate = ((moved - this.windowStart.moved) * 1000) / dt;
    this.windows++;
    this.decide(now, rate);
    this.begin(now, moved);
  }

  /** The server asked to slow down (429, 503 SlowDown), failed with a 5xx, or an item stalled. */
  onCongestion(now: number, moved: number): void {
    // One cut per window: the items in flight when the server got overloaded all fail together.
    if (now - this.lastCut < this.minWindowMs) return;
    this.lastCut = now;
    this.phaseValue = 'steady';
    this.steadyWindows = 0;
    this.best = undefined;
    this.set(now, Math.max(1, Math.floor(this.limitValue / 2)), 'congestion');
    this.begin(now, moved);
  }

  private decide(now: number, rate: number): void {
    const paidOff = !this.best || rate > this.best.rate * (1 + this.gain);
    if (this.phaseValue === 'probing') {
      if (paidOff) {
        this.best = { limit: this.limitValue, rate };
        if (this.limitValue >= this.max) return this.settle(now, 'keep', rate);
        return this.set(now, Math.min(this.max, this.limitValue * 2), 'grow', rate);
      }
      // The knee: more in flight did not move more bytes. Back to what did.
      return this.settle(now, 'knee', rate, this.best!.limit);
    }
    // Steady.
    if (this.best && this.limitValue > this.best.limit) {
      // This window measured a probe upward.
      if (paidOff) {
        this.best = { limit: this.limitValue, rate };
        this.phaseValue = 'probing';
        return this.set(now, Math.min(this.max, this.limitValue * 2), 'grow', rate);
      }
      return this.settle(now, 'revert', rate, this.best.limit);
    }
    // A steady window: its rate is the reference for the next probe (the link may have changed).
    this.best = { limit: this.limitValue, rate };
    if (++this.steadyWindows >= this.reprobeEvery && this.limitValue < this.max) {
      this.steadyWindows = 0;
      this.set(now, Math.min(this.max, this.limitValue + Math.max(1, Math.ceil(this.limitValue / 4))), 'probe', rate);
    }
  }

  private settle(now: number, why: 'knee' | 'keep' | 'revert', rate: number, limit = this.limitValue): void {
    this.phaseValue = 'steady';
    this.steadyWindows = 0;
    this.set(now, limit, why, rate);
  }

  private set(now: number, limit: number, why: AdaptiveConcurrency['history'][number]['why'], rate?: number): void {
    this.limitValue = limit;
    this.history.push({ t: now, limit, why, ...(rate !== undefined ? { rate } : {}) });
  }
}
