/**
 * Progress of a transfer, throttled: at most one event per `intervalMs` (250 ms by default),
 * plus a forced one at state changes. The rate is the bytes moved (resends included: what the
 * network carries) over a sliding window of the last few seconds; the ETA divides what is left by it.
 */
export interface TransferProgress {
  bytesDone: number;
  totalBytes: number;
  /** Bytes per second over the last ~5 s. */
  rateBps: number;
  /** Seconds left at that rate; null while the rate is 0. */
  etaS: number | null;
  /** Parts (ranges) in flight at most right now: fixed by the caller, or adapted ('auto'). */
  concurrency?: number;
}

export class ProgressMeter {
  private lastEmit = -Infinity;
  private samples: { t: number; moved: number }[] = [];

  constructor(
    private readonly o: { totalBytes: number; emit: (p: TransferProgress) => void; intervalMs?: number; windowMs?: number; concurrency?: () => number },
  ) {}

  /** Call as often as you like; emits when the interval has passed (or `force`). */
  update(bytesDone: number, bytesMoved: number, force = false): void {
    const now = Date.now();
    const last = this.samples[this.samples.length - 1];
    if (!last || now - last.t >= 100) this.samples.push({ t: now, moved: bytesMoved });
    const windowMs = this.o.windowMs ?? 5000;
    while (this.samples.length > 2 && now - this.samples[1].t > windowMs) this.samples.shift();
    if (!force && now - this.lastEmit < (this.o.intervalMs ?? 250)) return;
    this.lastEmit = now;
    this.o.emit(this.snapshot(bytesDone, bytesMoved, now));
  }

  snapshot(bytesDone: number, bytesMoved: number, now = Date.now()): TransferProgress {
    const first = this.samples[0];
    const dt = first ? (now - first.t) / 1000 : 0;
    const rateBps = dt > 0 ? Math.max(0, (bytesMoved - first!.moved) / dt) : 0;
    const left = Math.max(0, this.o.totalBytes - bytesDone);
    const concurrency = this.o.concurrency?.();
    return { bytesDone, totalBytes: this.o.totalBytes, rateBps, etaS: left === 0 ? 0 : rateBps > 0 ? left / rateBps : null, ...(concurrency !== undefined ? { concurrency } : {}) };
  }

  /** Forget the rate history (after a pause: the idle time is not the network's). */
  reset(): void {
    this.samples = [];
  }
}
