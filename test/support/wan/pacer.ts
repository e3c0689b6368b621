/**
 * A rate limit as virtual time: `nextFree` is when the link is free for the next byte. Sending n
 * bytes that could start at `t` finishes at max(nextFree, t - burst) + n / rate. No polling
 * timers: the caller learns at once when a slice may leave and schedules it then. A pacer per
 * connection and one shared by every connection compose by taking the latest of their answers
 * (each advancing only by its own share, so a slow connection does not hold the shared one back).
 */
export class Pacer {
  private nextFree = 0;

  /** `bytesPerSecond` undefined: no limit. `burstMs`: idle credit a pacer may spend at once. */
  constructor(
    public bytesPerSecond: number | undefined,
    private readonly burstMs = 5,
  ) {}

  /** How long bytes offered at `t` would wait before they start leaving (ms), booking nothing. */
  wouldWait(t: number): number {
    if (this.bytesPerSecond === undefined || this.bytesPerSecond <= 0) return 0;
    return Math.max(0, this.nextFree - t);
  }

  /** Books `n` bytes that could start at `t` (ms); returns when they have left (ms). */
  book(t: number, n: number): number {
    if (this.bytesPerSecond === undefined || this.bytesPerSecond <= 0) return t;
    const start = Math.max(this.nextFree, t - this.burstMs);
    this.nextFree = start + (n * 1000) / this.bytesPerSecond;
    return Math.max(t, this.nextFree);
  }
}
