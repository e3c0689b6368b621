/**
 * Application-level liveness: WebRTC itself notices a dead peer only after ~28 s (consent
 * freshness) and werift emits no close event (docs/facts.md §3). Every `intervalMs` we send a
 * heartbeat; any frame received counts as a sign of life; after `deadAfterMs` of silence the
 * peer is dead. Detection happens on a tick, so it takes between deadAfterMs and
 * deadAfterMs + intervalMs.
 */
export interface HeartbeatOptions {
  intervalMs: number;
  deadAfterMs: number;
  send(t: number): void;
  onDead(silentMs: number): void;
  now?: () => number;
}

export class Heartbeat {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private readonly now: () => number;

  constructor(private readonly o: HeartbeatOptions) {
    this.now = o.now ?? Date.now;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Milliseconds since the last frame from the peer. */
  get silentMs(): number {
    return this.now() - this.lastHeard;
  }

  start(): void {
    if (this.timer) return;
    this.lastHeard = this.now();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.o.send(this.now());
  }

  heard(): void {
    this.lastHeard = this.now();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (!this.timer) return; // a tick already queued when stop() ran
    const silent = this.silentMs;
    if (silent >= this.o.deadAfterMs) {
      this.stop();
      this.o.onDead(silent);
      return;
    }
    this.o.send(this.now());
  }
}
