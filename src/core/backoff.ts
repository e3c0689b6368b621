/**
 * The project's one backoff schedule: the n-th wait (0-based) is `initialMs * 2^n`, capped at
 * `maxMs`, of which the fraction `jitter` is drawn at random, so the delay lies in
 * [(1 - jitter) * d, d):
 *   - jitter 1 is "full jitter" (the transfer engine: many parts retrying at once spread out);
 *   - a little jitter (0.2, the reconnect default) keeps a roomful of workers from reconnecting
 *     in lockstep after a server restart;
 *   - jitter 0 is a fixed doubling schedule (the agent's links to its workers).
 * `random` is injectable so that tests are deterministic (it must return [0, 1), as Math.random).
 *
 * The transfer engine, the signaling client and the agent's worker links each had a formula of
 * their own; their delays and caps are kept. The signaling reconnect drew `round(d * (1 - j * r))`:
 * the same range, walked from the other end (a random 0 gave the longest delay, now the shortest,
 * as in the transfer engine) and rounded instead of floored.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0..1, the fraction of each delay that is randomised. */
  jitter: number;
}

/** The reconnect schedule (sleap-rtc's signaling client): 1 s, 2 s, 4 s ... 30 s, a fifth of it jittered. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000, jitter: 0.2 };

/** The delay before retry `n` (0-based: 0 is the first retry, after the first failure). */
export function backoffDelay(n: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  // 2^30 is past any cap in use; the bound keeps a long outage's counter from reaching Infinity.
  const d = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(30, Math.max(0, n)));
  const spread = d * Math.min(1, Math.max(0, opts.jitter));
  return Math.floor(d - spread + spread * random());
}

/**
 * A backoff with its own count of retries, for a caller that retries one thing (a connection,
 * a link): `next()` is the delay before the next retry, `reset()` once it has succeeded.
 */
export class Backoff {
  private n = 0;

  constructor(
    private readonly opts: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** Retries since the last reset. */
  get retries(): number {
    return this.n;
  }

  next(): number {
    return backoffDelay(this.n++, this.opts, this.random);
  }

  reset(): void {
    this.n = 0;
  }
}
