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
}

/**
 * The backend's presigned-URL API (`sleap-rtc server`, /api/*) as typed calls. Every answer is
 * validated with the schemas of core/schemas/backend.ts; every call retries 5xx, 429/503 and
 * network failures on the shared schedule; error bodies become AppErrors with the backend's code.
 */
export class BackendClient {
  private readonly base: string;

  constructor(private readonly o: BackendClientOptions) {
    this.base = o.baseUrl.replace(/\/+$/, '');
  }

  requestUpload(body: Partial<RequestUploadBody> & Pick<RequestUploadBody, 'file_name' | 'file_size'>, opts: { signal?: AbortSignal } = {}): Promise<RequestUploadResponse> {
    return this.call('POST', '/api/request-upload', body, requestUploadResponse, opts.signal);
  }

  /** Fresh part URLs; `checksums` are signed into them (see partUrl.checksum). */
  uploadUrls(key: string, uploadId: string, partNumbers: number[], opts: { signal?: AbortSignal; checksums?: PartChecksumBody[] } = {}): Promise<UploadUrlsResponse> {
    const body = { key, upload_id: uploadId, part_numbers: partNumbers, ...(opts.checksums?.length ? { part_checksums: opts.checksums } : {}) };
    return this.call('POST', '/api/upload-urls', body, uploadUrlsResponse, opts.signal);
  }

  async uploadStatus(key: string, uploadId: string, opts: { signal?: AbortSignal } = {}): Promise<UploadedPart[]> {
    const q = `?key=${encodeURIComponent(key)}&upload_id=${encodeURIComponent(uploadId)}`;
    return (await this.call('GET', `/api/upload-status${q}`, undefined, uploadStatusResponse, opts.signal)).parts;
  }

  completeUpload(body: CompleteUploadBody, opts: { signal?: AbortSignal } = {}): Promise<CompleteUploadResponse> {
    return this.call('POST', '/api/complete-upload', body, completeUploadResponse, opts.signal);
  }

  async abortUpload(key: string, uploadId: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.call('POST', '/api/abort-upload', { key, upload_id: uploadId }, undefined, opts.signal);
  }

  requestDownload(key: string, opts: { signal?: AbortSignal } = {}): Promise<RequestDownloadResponse> {
    return this.call('POST', '/api/request-download', { key }, requestDownloadResponse, opts.signal);
  }

  private call<T>(method: 'GET' | 'POST', path: string, body: unknown, schema: z.ZodType<T> | undefined, signal: AbortSignal | undefined): Promise<T> {
    const what = `${method} ${path.split('?')[0]}`;
    return withRetry(() => this.once(method, path, body, schema, signal, what), { policy: this.o.retry ?? DEFAULT_RETRY, signal, what });
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
      throw networkFailure((e as { cause?: unknown }).cause ?? e, `backend ${what}`);
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
      throw new AppError(code, `backend ${what}: ${message}`, { details: { ...(parsed.success ? parsed.data.error.details : {}), ...(bcode ? { backend_code: bcode } : {}), status: res.status } });
    }
    if (!schema) return undefined as T;
    const r = schema.safeParse(json);
    if (!r.success) throw new AppError('upstream_error', `backend ${what}: unexpected answer (${r.error.issues[0]?.message ?? 'invalid'})`, { details: { status: res.status } });
    return r.data;
  }
}
