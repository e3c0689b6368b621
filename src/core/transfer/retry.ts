import { backoffDelay } from '../backoff.js';
import { AppError, isAppError } from '../errors.js';
import { Outage, unreachableOf, type OutageWaiting } from './outage.js';

/**
 * The one retry schedule of the transfer engine: core's backoff with full jitter
 * (a delay drawn uniformly from [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1)))), and one
 * classification of failures, modelled on uppy's `#shouldRetry`:
 *   - 429 / 503 / SlowDown            -> 'slow_down'   (the whole queue backs off and narrows)
 *   - expired presigned URL (403)     -> 'refresh_url' (re-sign, then retry at once)
 *   - 5xx, network errors, stalls,
 *     BadDigest, a part stored damaged -> 'retry'     (this request again, after a delay)
 *   - the S3 server's storage full (507, InsufficientStorage, XMinioStorageFull) -> 'fatal'
 *     at once: trying again cannot help until someone frees space; the same upload then resumes
 *   - other 4xx and everything else   -> 'fatal'
 *   - our own abort (pause/cancel)    -> 'aborted'
 *   - nothing answered at the endpoint -> 'unreachable' (no try counted: wait for it, outage.ts)
 */
export interface RetryPolicy {
  /** Tries per request, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 250, maxDelayMs: 20_000 };

export type FailureKind = 'retry' | 'slow_down' | 'refresh_url' | 'fatal' | 'aborted' | 'unreachable';

/** Full-jitter delay before try number `attempt + 1`, given that try `attempt` (1-based) failed. */
export function retryDelay(attempt: number, policy: RetryPolicy = DEFAULT_RETRY, random: () => number = Math.random): number {
  return backoffDelay(attempt - 1, { initialMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, jitter: 1 }, random);
}

/** The paused sentinel: the reason a transfer's signal is aborted with when the user pauses. */
export const PAUSED: AppError = new AppError('aborted', 'the transfer was paused', { details: { paused: true } });

export function isPaused(reason: unknown): boolean {
  return reason === PAUSED;
}

/** What transport code puts in AppError.details so that classifyFailure can decide. */
export interface FailureDetails {
  /** HTTP status of the answer, when there was one. */
  status?: number;
  /** S3 error code from the XML body (SlowDown, AccessDenied, ...). */
  s3_code?: string;
  /** A presigned URL that has expired (or that S3 says has). */
  expired?: boolean;
  /** The connection failed or broke (reset, refused, EPIPE, short body). */
  network?: boolean;
  /** No bytes moved for the stall timeout. */
  stalled?: boolean;
  /** The server stored bytes other than the ones sent (its ETag is not the part's MD5): send again. */
  damaged?: boolean;
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE']);
const STORAGE_FULL_CODES = new Set(['InsufficientStorage', 'XMinioStorageFull']);

/** True when S3 says its storage is full (507 or a storage-full code: the embedded store's, MinIO's). */
export function storageFull(status: number | undefined, s3Code: string | undefined): boolean {
  return status === 507 || (s3Code !== undefined && STORAGE_FULL_CODES.has(s3Code));
}

/** What to add to a storage-full error so that the user knows what to do. */
export const STORAGE_FULL_HINT = "the S3 server's storage is full: free space there (or ask its operator), then run the same upload again: it resumes from the parts already stored";

/** 400s that S3 sends for a body damaged or cut in transit: sending the same bytes again can work. */
const RETRYABLE_4XX_CODES = new Set(['BadDigest', 'IncompleteBody', 'RequestTimeout', 'XAmzContentSHA256Mismatch']);

export function classifyFailure(e: unknown): FailureKind {
  if (isAppError(e)) {
    if (e.code === 'aborted') return 'aborted';
    if (unreachableOf(e)) return 'unreachable';
    const d = (e.details ?? {}) as FailureDetails;
    if (d.expired) return 'refresh_url';
    if (d.stalled || d.network || d.damaged) return 'retry';
    if (storageFull(d.status, d.s3_code)) return 'fatal';
    if (d.s3_code === 'SlowDown' || d.status === 429 || d.status === 503) return 'slow_down';
    if (d.status !== undefined) {
      if (d.status >= 500) return 'retry';
      if (d.status === 408 || (d.s3_code !== undefined && RETRYABLE_4XX_CODES.has(d.s3_code))) return 'retry';
      return 'fatal';
    }
    if (e.code === 'timeout') return 'retry';
    return 'fatal';
  }
  const err = e as { name?: string; code?: string; cause?: { code?: string } } | undefined;
  if (err?.name === 'AbortError') return 'aborted';
  const code = err?.code ?? err?.cause?.code;
  if (code && NETWORK_CODES.has(code)) return 'retry';
  // fetch() rejects with a bare TypeError("fetch failed") whose cause names the socket error.
  if (err?.name === 'TypeError' && err.cause) return 'retry';
  return 'fatal';
}

/** The error to throw for an aborted signal: its reason when that is an AppError (PAUSED, a stall), else 'aborted'. */
export function abortError(signal: AbortSignal): AppError {
  const r: unknown = signal.reason;
  if (r instanceof AppError) return r;
  return new AppError('aborted', 'the transfer was cancelled', { cause: r });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** setTimeout as a promise that rejects with abortError(signal) when the signal fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface WithRetryOptions {
  policy?: RetryPolicy;
  signal?: AbortSignal;
  /** Names the operation in the final error ("complete-upload"). */
  what: string;
  /** Re-signs a URL after an 'refresh_url' failure (at most 3 times); without it such failures are fatal. */
  refresh?: () => Promise<void>;
  onRetry?: (info: { attempt: number; kind: FailureKind; delayMs: number; error: unknown }) => void;
  random?: () => number;
  /**
   * An endpoint that does not answer: 'wait' (default) waits it out without counting tries, up to
   * `outageLimitMs`; 'throw' hands the failure to the caller at once (a part queue that waits
   * for the whole transfer); 'count' spends tries on it as on any failure.
   */
  outage?: 'wait' | 'throw' | 'count';
  outageLimitMs?: number;
  /** The wait's start (and reason) and its end (undefined). */
  onWaiting?: (w: OutageWaiting | undefined) => void;
}

/**
 * Runs `fn` until it succeeds, a failure is fatal, or the policy's tries are spent. For single
 * requests (control-plane calls); the part queue applies the same schedule per part itself.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, o: WithRetryOptions): Promise<T> {
  const policy = o.policy ?? DEFAULT_RETRY;
  let refreshes = 0;
  let slowDowns = 0;
  const outage = new Outage({ limitMs: o.outageLimitMs, onChange: o.onWaiting, random: o.random });
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(o.signal);
    try {
      const r = await fn(attempt);
      outage.answered();
      return r;
    } catch (e) {
      if (o.signal?.aborted) outage.end();
      throwIfAborted(o.signal);
      let kind = classifyFailure(e);
      if (kind === 'unreachable') {
        const mode = o.outage ?? 'wait';
        if (mode === 'throw') throw e;
        if (mode === 'wait') {
          const u = unreachableOf(e)!;
          const at = outage.failed(u); // throws past the limit
          attempt--;
          o.onRetry?.({ attempt, kind, delayMs: Math.max(0, at - Date.now()), error: e });
          await sleep(Math.max(0, at - Date.now()), o.signal).catch((err: unknown) => {
            outage.end();
            throw err;
          });
          continue;
        }
        kind = 'retry';
      }
      outage.answered();
      if (kind === 'aborted' || kind === 'fatal') throw e;
      if (kind === 'refresh_url') {
        if (!o.refresh || refreshes >= 3) throw e;
        refreshes++;
        attempt--;
        o.onRetry?.({ attempt, kind, delayMs: 0, error: e });
        await o.refresh();
        continue;
      }
      if (attempt >= policy.maxAttempts) throw gaveUp(e, o.what, attempt);
      // A slow-down waits at least one base delay per slow-down seen: never hammer a throttling server.
      const delayMs = kind === 'slow_down' ? policy.baseDelayMs * ++slowDowns + retryDelay(attempt, policy, o.random) : retryDelay(attempt, policy, o.random);
      o.onRetry?.({ attempt, kind, delayMs, error: e });
      await sleep(delayMs, o.signal);
    }
  }
}

/** The last failure, re-labelled with how many tries were made ("part 2 failed after 6 tries: network failure ..."). */
export function gaveUp(e: unknown, what: string, attempts: number): AppError {
  const base = e instanceof AppError ? e : new AppError('upstream_error', e instanceof Error ? e.message : String(e), { cause: e });
  // The failure often names the same thing first ("part 2: ..."): said once.
  const said = base.message.startsWith(`${what}: `) ? base.message.slice(what.length + 2) : base.message;
  return new AppError(base.code, `${what} failed after ${attempts} tries: ${said}`, { cause: e, details: { ...base.details, attempts } });
}
