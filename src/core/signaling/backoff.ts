/**
 * Reconnect schedule of the signaling client, as sleap-rtc's: 1 s, 2 s, 4 s ... capped. A little
 * jitter (the delay is drawn from [(1 - jitter) * d, d]) keeps a roomful of workers from
 * reconnecting in lockstep after a server restart.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0..1, the fraction of each delay that is randomised. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000, jitter: 0.2 };

/** Delay before reconnect attempt `attempt` (0-based: 0 is the first reconnect). */
export function reconnectDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const d = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  const j = Math.min(1, Math.max(0, opts.jitter));
  return Math.round(d * (1 - j * random()));
}
