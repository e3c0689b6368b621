import { backoffDelay, type BackoffOptions } from '../backoff.js';
import { AppError, isAppError } from '../errors.js';

/**
 * An endpoint that does not answer at all (S3, or the backend) is an outage, not a failed try:
 * a store restarting, a laptop changing networks, a proxy down for a while. The transfer waits it
 * out instead of spending a part's tries on it (a 3 s outage used to end an upload with "part 27
 * failed after 6 tries: ECONNREFUSED"): it probes the endpoint on a capped backoff, says how long
 * it has waited, goes on with every part once the endpoint answers, and gives up only after the
 * outage limit (`outageLimit`, default 1 hour), or when paused or cancelled.
 */

/** Who did not answer, as carried in an AppError's `details.unreachable`. */
export interface Unreachable {
  service: OutageService;
  /** Scheme, host and port only (URLs may hold credentials: presigned queries never appear here). */
  endpoint: string;
  /** The socket error (ECONNREFUSED), or the status with what the backend said (503 ...). */
  reason: string;
}

export type OutageService = 'S3' | 'backend';

/** What a transfer shows while it waits (the agent's `waiting` field, the CLI's line). */
export interface OutageWaiting extends Unreachable {
  /** When the endpoint stopped answering, ms since the epoch. */
  since: number;
}

export const DEFAULT_OUTAGE_LIMIT_MS = 60 * 60 * 1000;

/** Probes after 1 s, 2 s, 4 s ... then every 30 s, a fifth jittered (many transfers must not probe in lockstep). */
export const OUTAGE_PROBE: BackoffOptions = { initialMs: 1000, maxMs: 30_000, jitter: 0.2 };

/**
 * Socket errors that mean nothing answered: connection refused or timed out, no route, no name.
 * ECONNRESET counts only where nothing was sent yet (a reset mid-body is a failed try: the
 * server was there); the part queue checks that, the backend's small requests always count it.
 */
export const UNREACHABLE_ERRNOS: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT']);

/** The origin of a URL (no path, no query): what may be shown of an endpoint. */
export function endpointOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(unparsable URL)';
  }
}

/** The `details.unreachable` of a socket failure with this errno, if it is one. */
export function unreachableDetail(errno: string | undefined, service: OutageService, endpoint: string | undefined): Unreachable | undefined {
  if (!errno || !endpoint || !UNREACHABLE_ERRNOS.has(errno)) return undefined;
  return { service, endpoint, reason: errno };
}

/** The endpoint a failure says did not answer. `bytesSent` > 0 turns a reset into a plain failed try. */
export function unreachableOf(e: unknown, bytesSent = 0): Unreachable | undefined {
  if (!isAppError(e)) return undefined;
  const u = e.details?.unreachable as Unreachable | undefined;
  if (!u || typeof u.endpoint !== 'string') return undefined;
  if (u.reason === 'ECONNRESET' && bytesSent > 0) return undefined;
  return u;
}

/** "12 s", "4 min 5 s", "1 h 0 min". */
export function formatWaited(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The one line the CLI shows (and the log says) while waiting. */
export function describeWaiting(w: OutageWaiting, now: number = Date.now()): string {
  return `waiting for ${w.service === 'S3' ? 'S3' : 'the backend'} at ${w.endpoint}: unreachable for ${formatWaited(now - w.since)} (${w.reason}); retrying`;
}

export interface OutageOptions {
  /** Give up after waiting this long (ms). Default 1 hour. */
  limitMs?: number;
  /** Called when the wait starts (or its reason changes) and when it ends (undefined). */
  onChange?: (w: OutageWaiting | undefined) => void;
  random?: () => number;
  now?: () => number;
}

/**
 * The waiting state of one transfer (or one call): when the endpoint stopped answering, and when
 * to probe it next. Every item that fails during the wait is held until the same probe time, so
 * eight parts failing at once advance the backoff once, not eight times.
 */
export class Outage {
  private current?: OutageWaiting;
  private probes = 0;
  private nextProbe = 0;
  readonly limitMs: number;

  constructor(private readonly o: OutageOptions = {}) {
    this.limitMs = o.limitMs ?? DEFAULT_OUTAGE_LIMIT_MS;
  }

  get waiting(): OutageWaiting | undefined {
    return this.current;
  }

  /** When the held items may try again (0 when not waiting). */
  get probeAt(): number {
    return this.current ? this.nextProbe : 0;
  }

  /**
   * An item found the endpoint unreachable: starts or continues the wait and returns when to
   * probe next; throws the give-up error once the wait has lasted the limit.
   */
  failed(u: Unreachable): number {
    const now = this.now();
    if (!this.current) {
      this.current = { ...u, since: now };
      this.probes = 0;
      this.nextProbe = 0;
      this.o.onChange?.(this.current);
    } else if (this.current.reason !== u.reason || this.current.endpoint !== u.endpoint || this.current.service !== u.service) {
      this.current = { ...u, since: this.current.since };
      this.o.onChange?.(this.current);
    }
    const waited = now - this.current.since;
    if (waited >= this.limitMs) {
      const w = this.current;
      this.end();
      throw outageError(w, waited, this.limitMs);
    }
    if (this.nextProbe <= now) {
      // The last probe is within the limit, so the give-up comes at the limit, not up to 30 s later.
      this.nextProbe = Math.min(now + backoffDelay(this.probes++, OUTAGE_PROBE, this.o.random), this.current.since + this.limitMs);
    }
    return this.nextProbe;
  }

  /** The endpoint answered (anything, even an error): the wait is over. */
  answered(): void {
    this.end();
  }

  /** Paused, cancelled or finished: no longer waiting (a later wait starts its clock anew). */
  end(): void {
    if (!this.current) return;
    this.current = undefined;
    this.o.onChange?.(undefined);
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

/** The error a transfer ends with after the outage limit: who, for how long, and the setting. */
export function outageError(w: OutageWaiting, waitedMs: number, limitMs: number): AppError {
  const who = w.service === 'S3' ? 'S3' : 'the backend';
  return new AppError(
    'unavailable',
    `${who} at ${w.endpoint} was unreachable for ${formatWaited(waitedMs)} (${w.reason}), longer than the outage limit of ${formatWaited(limitMs)} (--outage-limit <seconds> or SLEAP_RTC_OUTAGE_LIMIT): check that it runs and can be reached, then run the same command again to resume (the parts already sent are kept)`,
    { details: { endpoint: w.endpoint, service: w.service, reason: w.reason, waited_s: Math.floor(waitedMs / 1000), outage_limit_s: Math.floor(limitMs / 1000) } },
  );
}
