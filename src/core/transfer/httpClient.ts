import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { XMLParser } from 'fast-xml-parser';
import { AppError, type ErrorCode } from '../errors.js';
import { AUTO_MAX_CONCURRENCY } from './AdaptiveConcurrency.js';
import { endpointOf, unreachableDetail, type OutageService } from './outage.js';
import { isRecycling } from './PartSource.js';
import { abortError, STORAGE_FULL_HINT, storageFull, type FailureDetails } from './retry.js';

/**
 * The data plane: part PUTs and ranged GETs with node:http(s), bodies streamed (never buffered),
 * keep-alive agents sized to the transfer's concurrency. Failures become AppErrors whose details
 * (FailureDetails) let retry.ts classify them. URLs are credentials: they never appear in errors.
 */
export interface HttpAgents {
  http: http.Agent;
  https: https.Agent;
  destroy(): void;
}

/** Sockets for a transfer's concurrency: with 'auto', as many as the adaptive limit may reach. */
export function socketsFor(concurrency: number | 'auto'): number {
  return concurrency === 'auto' ? AUTO_MAX_CONCURRENCY : concurrency;
}

export function createAgents(maxSockets: number): HttpAgents {
  const opts = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
  const a = { http: new http.Agent(opts), https: new https.Agent(opts) };
  return { ...a, destroy: () => (a.http.destroy(), a.https.destroy()) };
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as text, cut at 64 KiB (S3 answers to PUT are empty or a small XML error). */
  text: string;
}

export interface PutStreamOptions {
  url: string;
  body: Readable;
  size: number;
  headers?: Record<string, string>;
  agents: HttpAgents;
  signal: AbortSignal;
  /** Called with each chunk's length once node has handed it to the socket. */
  onBytes?: (n: number) => void;
  /** For error messages: "part 3". */
  what: string;
}

/**
 * PUTs `size` bytes from `body` with an explicit Content-Length. Resolves with the answer
 * whatever its status (callers turn non-2xx into errors with s3Failure); rejects on network
 * failure, abort, or a body that yields more or fewer bytes than `size` (source_changed).
 */
export function putStream(o: PutStreamOptions): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const u = new URL(o.url);
    const secure = u.protocol === 'https:';
    let settled = false;
    let bodyDone = false;
    let read = 0;
    const req = (secure ? https : http).request(u, {
      method: 'PUT',
      agent: secure ? o.agents.https : o.agents.http,
      headers: { ...o.headers, 'content-length': String(o.size) },
    });
    const finish = (err: unknown, answer?: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      o.signal.removeEventListener('abort', onAbort);
      if (!bodyDone) o.body.destroy();
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const onAbort = (): void => finish(abortError(o.signal));
    if (o.signal.aborted) return onAbort();
    o.signal.addEventListener('abort', onAbort, { once: true });

    req.on('error', (e) => finish(networkFailure(e, o.what, { service: 'S3', url: o.url })));
    req.on('response', (res) => {
      // S3 may answer before the body is through (403, 503): stop reading the file then.
      if (!bodyDone) {
        bodyDone = true;
        o.body.destroy();
        res.once('end', () => req.destroy());
      }
      readAnswer(res).then(
        (a) => finish(undefined, a),
        (e: unknown) => finish(networkFailure(e, o.what, { service: 'S3', url: o.url })),
      );
    });

    const body = o.body;
    const recycle = isRecycling(body) ? (c: Buffer): void => body.recycle(c) : undefined;
    o.body.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > o.size) {
        finish(new AppError('source_changed', `${o.what}: the file yields more bytes than it had when the upload started; start a new upload`));
        return;
      }
      const n = chunk.length;
      const ok = req.write(chunk, (err) => {
        if (err) return;
        // The socket has the bytes: the chunk's buffer can carry the next read.
        recycle?.(chunk);
        if (!settled) o.onBytes?.(n);
      });
      if (!ok) {
        o.body.pause();
        req.once('drain', () => o.body.resume());
      }
    });
    o.body.once('end', () => {
      bodyDone = true;
      if (read !== o.size) {
        finish(new AppError('source_changed', `${o.what}: the file yields ${read} bytes where ${o.size} were expected (changed since the upload started); start a new upload`));
        return;
      }
      req.end();
    });
    o.body.on('error', (e) => finish(new AppError('storage_error', `${o.what}: cannot read the file: ${e.message}`, { cause: e })));
  });
}

/** Reads an answer body (at most 64 KiB kept). */
export function readAnswer(res: IncomingMessage): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    res.on('data', (c: Buffer) => {
      if (kept < 65536) {
        chunks.push(c);
        kept += c.length;
      }
    });
    res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8').slice(0, 65536) }));
    res.once('error', reject);
    res.once('close', () => {
      if (!res.complete) reject(Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' }));
    });
  });
}

/** Opens a GET (with extra headers such as Range) and resolves with the answer stream. */
export function openGet(url: string, o: { headers?: Record<string, string>; agents: HttpAgents; signal: AbortSignal; what: string }): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    let settled = false;
    const req = (secure ? https : http).request(u, { method: 'GET', agent: secure ? o.agents.https : o.agents.http, headers: o.headers });
    const onAbort = (): void => {
      const err = abortError(o.signal);
      req.destroy(err);
      if (!settled) {
        settled = true;
        reject(err);
      }
    };
    if (o.signal.aborted) return onAbort();
    o.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => {
      if (settled) return;
      settled = true;
      o.signal.removeEventListener('abort', onAbort);
      reject(o.signal.aborted ? abortError(o.signal) : networkFailure(e, o.what, { service: 'S3', url }));
    });
    req.on('response', (res) => {
      settled = true;
      // Keep the abort listener until the body is consumed: aborting then destroys the stream.
      res.once('close', () => o.signal.removeEventListener('abort', onAbort));
      resolve(res);
    });
    req.end();
  });
}

/** When a SigV4 presigned URL stops working (X-Amz-Date + X-Amz-Expires), in ms since the epoch. */
export function presignedExpiry(url: string): number | undefined {
  const q = new URL(url).searchParams;
  const date = q.get('X-Amz-Date');
  const expires = Number(q.get('X-Amz-Expires'));
  const m = date ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date) : null;
  if (!m || !Number.isFinite(expires)) return undefined;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + expires * 1000;
}

// The XML parser the store uses (fast-xml-parser): entities are decoded (`&amp;` in a message),
// values kept as text. S3 error documents declare no DOCTYPE; one that does is not read.
const errorXml = new XMLParser({ ignoreAttributes: true, parseTagValue: false, processEntities: true, htmlEntities: true });

/** Code and Message of an S3 error document (`<Error><Code>..</Code><Message>..</Message></Error>`), when the body is one. */
export function s3ErrorFields(text: string): { code?: string; message?: string } {
  if (!text.includes('<Error') || /<!DOCTYPE|<!ENTITY/i.test(text)) return {};
  let doc: unknown;
  try {
    doc = errorXml.parse(text);
  } catch {
    return {}; // cut at 64 KiB, or not XML after all: the status still tells
  }
  const e = (doc as { Error?: unknown } | undefined)?.Error;
  if (typeof e !== 'object' || e === null) return {};
  const field = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const { Code, Message } = e as { Code?: unknown; Message?: unknown };
  return { code: field(Code), message: field(Message) };
}

/**
 * An S3 error answer as an AppError. A 403 is an expired URL when S3 says so ("Request has
 * expired") or when it is AccessDenied on a URL whose X-Amz-Expires has passed: those are re-signed.
 */
export function s3Failure(a: HttpAnswer, what: string, url?: string, notFound: ErrorCode = 'upload_not_found'): AppError {
  const { code: s3Code, message } = s3ErrorFields(a.text);
  const details: FailureDetails & Record<string, unknown> = { status: a.status, ...(s3Code ? { s3_code: s3Code } : {}) };
  if (a.status === 403) {
    const exp = url ? presignedExpiry(url) : undefined;
    if (/expired/i.test(message ?? '') || (s3Code === 'AccessDenied' && exp !== undefined && Date.now() >= exp - 1000)) details.expired = true;
  }
  const full = storageFull(a.status, s3Code);
  const code: ErrorCode = full ? 'disk_full' : a.status === 404 ? notFound : a.status === 412 ? 'precondition_failed' : a.status >= 500 || a.status === 429 ? 'upstream_error' : a.status === 403 ? 'forbidden' : 'storage_error';
  const label = [s3Code, message].filter(Boolean).join(': ');
  return new AppError(code, `${what}: S3 answered ${a.status}${label ? ` (${label})` : ''}${full ? `; ${STORAGE_FULL_HINT}` : ''}`, { details });
}

/**
 * A socket-level failure (reset, refused, cut-off answer) as a retryable AppError. Given the
 * endpoint, one that nothing answered at (outage.ts) says so in `details.unreachable`: the
 * transfer then waits for the endpoint instead of counting the try.
 */
export function networkFailure(e: unknown, what: string, endpoint?: { service: OutageService; url: string }): AppError {
  if (e instanceof AppError) return e;
  const err = e as { code?: string; message?: string };
  const unreachable = endpoint ? unreachableDetail(err.code, endpoint.service, endpointOf(endpoint.url)) : undefined;
  return new AppError('upstream_error', `${what}: network failure (${err.code ?? err.message ?? String(e)})`, { cause: e, details: { network: true, errno: err.code, ...(unreachable ? { unreachable } : {}) } });
}
