import type { z } from 'zod';
import { AppError, type ErrorCode } from '../errors.js';
import {
  completeUploadResponse,
  errorBody,
  requestDownloadResponse,
  requestUploadResponse,
  uploadStatusResponse,
  uploadUrlsResponse,
  type CompleteUploadBody,
  type CompleteUploadResponse,
  type PartChecksumBody,
  type RequestDownloadResponse,
  type RequestUploadBody,
  type RequestUploadResponse,
  type UploadedPart,
  type UploadUrlsResponse,
} from '../schemas/backend.js';
import { networkFailure } from './httpClient.js';
import { endpointOf, type OutageWaiting, type Unreachable } from './outage.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.js';

const KNOWN_CODES: readonly ErrorCode[] = [
  'bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'precondition_failed', 'too_large', 'config_invalid',
  'storage_error', 'upstream_error', 'upload_not_found', 'checksum_mismatch', 'source_changed', 'aborted', 'timeout', 'internal',
];

export interface BackendClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** The room token (sent as a Bearer token; never logged). */
  token: string;
  retry?: RetryPolicy;
  /** A call that has not answered after this long is abandoned and retried. Default 60 s. */
  requestTimeoutMs?: number;
  /** How long a call waits for a backend that does not answer before it fails (ms). Default 1 hour (outage.ts). */
  outageLimitMs?: number;
  /** 'count' spends the retry tries on an unreachable backend instead (a check that must answer soon: doctor). Default 'wait'. */
  outage?: 'wait' | 'count';
}

/** Per call: the signal, and how an unreachable backend is handled (withRetry's `outage`, `onWaiting`). */
export interface BackendCallOptions {
  signal?: AbortSignal;
  /** 'wait' (default): wait for the backend up to the outage limit; 'throw': fail at once, the caller waits (a part queue); 'count': spend the retry tries on it. */
  outage?: 'wait' | 'throw' | 'count';
  onWaiting?: (w: OutageWaiting | undefined) => void;
}

/**
 * The backend's presigned-URL API (`sleap-rtc server`, /api/*) as typed calls. Every answer is
 * validated with the schemas of core/schemas/backend.ts; every call retries 5xx, 429/503 and
 * network failures on the shared schedule; error bodies become AppErrors with the backend's code.
 * A backend that does not answer (refused, reset, no route, no name) or answers 502/504 from a
 * proxy or 503 (it, or the S3 it needs, is down) is an outage: waited out (outage.ts).
 */
export class BackendClient {
  private readonly base: string;

  constructor(private readonly o: BackendClientOptions) {
    this.base = o.baseUrl.replace(/\/+$/, '');
  }

  requestUpload(body: Partial<RequestUploadBody> & Pick<RequestUploadBody, 'file_name' | 'file_size'>, opts: BackendCallOptions = {}): Promise<RequestUploadResponse> {
    return this.call('POST', '/api/request-upload', body, requestUploadResponse, opts);
  }

  /** Fresh part URLs; `checksums` are signed into them (see partUrl.checksum). */
  uploadUrls(key: string, uploadId: string, partNumbers: number[], opts: BackendCallOptions & { checksums?: PartChecksumBody[] } = {}): Promise<UploadUrlsResponse> {
    const body = { key, upload_id: uploadId, part_numbers: partNumbers, ...(opts.checksums?.length ? { part_checksums: opts.checksums } : {}) };
    return this.call('POST', '/api/upload-urls', body, uploadUrlsResponse, opts);
  }

  async uploadStatus(key: string, uploadId: string, opts: BackendCallOptions = {}): Promise<UploadedPart[]> {
    const q = `?key=${encodeURIComponent(key)}&upload_id=${encodeURIComponent(uploadId)}`;
    return (await this.call('GET', `/api/upload-status${q}`, undefined, uploadStatusResponse, opts)).parts;
  }

  completeUpload(body: CompleteUploadBody, opts: BackendCallOptions = {}): Promise<CompleteUploadResponse> {
    return this.call('POST', '/api/complete-upload', body, completeUploadResponse, opts);
  }

  async abortUpload(key: string, uploadId: string, opts: BackendCallOptions = {}): Promise<void> {
    await this.call('POST', '/api/abort-upload', { key, upload_id: uploadId }, undefined, opts);
  }

  requestDownload(key: string, opts: BackendCallOptions = {}): Promise<RequestDownloadResponse> {
    return this.call('POST', '/api/request-download', { key }, requestDownloadResponse, opts);
  }

  private call<T>(method: 'GET' | 'POST', path: string, body: unknown, schema: z.ZodType<T> | undefined, opts: BackendCallOptions): Promise<T> {
    const what = `${method} ${path.split('?')[0]}`;
    const { signal } = opts;
    return withRetry(() => this.once(method, path, body, schema, signal, what), {
      policy: this.o.retry ?? DEFAULT_RETRY,
      signal,
      what,
      outage: opts.outage ?? this.o.outage ?? 'wait',
      outageLimitMs: this.o.outageLimitMs,
      onWaiting: opts.onWaiting,
    });
  }

  private async once<T>(method: string, path: string, body: unknown, schema: z.ZodType<T> | undefined, signal: AbortSignal | undefined, what: string): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.o.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      const timeout = AbortSignal.timeout(this.o.requestTimeoutMs ?? 60_000);
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      text = await res.text();
    } catch (e) {
      if (signal?.aborted) throw e;
      // A timeout or a socket failure: both retryable.
      throw networkFailure((e as { cause?: unknown }).cause ?? e, `backend ${what}`, { service: 'backend', url: this.base });
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const parsed = errorBody.safeParse(json);
      const bcode = parsed.success ? parsed.data.error.code : undefined;
      const code: ErrorCode = bcode && (KNOWN_CODES as readonly string[]).includes(bcode) ? (bcode as ErrorCode) : res.status >= 500 ? 'upstream_error' : 'bad_request';
      const message = parsed.success ? parsed.data.error.message : `HTTP ${res.status}`;
      // 503: the backend (or the S3 behind it) is down for now; 502/504 without the backend's own
      // error body: a proxy in front of it found nothing there. Both are outages, not failed tries.
      const down = res.status === 503 || ((res.status === 502 || res.status === 504) && !parsed.success);
      const unreachable: Unreachable | undefined = down ? { service: 'backend', endpoint: endpointOf(this.base), reason: `HTTP ${res.status}${parsed.success ? `: ${message}` : ''}` } : undefined;
      throw new AppError(code, `backend ${what}: ${message}`, { details: { ...(parsed.success ? parsed.data.error.details : {}), ...(bcode ? { backend_code: bcode } : {}), status: res.status, ...(unreachable ? { unreachable } : {}) } });
    }
    if (!schema) return undefined as T;
    const r = schema.safeParse(json);
    if (!r.success) throw new AppError('upstream_error', `backend ${what}: unexpected answer (${r.error.issues[0]?.message ?? 'invalid'})`, { details: { status: res.status } });
    return r.data;
  }
}
