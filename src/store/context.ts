import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from '../core/log.js';
import { checksumHeader, type ChecksumAlgorithm } from './checksums.js';
import type { DiskBackend, ObjectMeta } from './DiskBackend.js';
import type { Multipart } from './Multipart.js';
import type { RequestTarget } from './request.js';
import { S3Error } from './S3Error.js';
import type { AuthResult } from './sigv4.js';

/** What every operation handler gets: the parsed, authenticated request and the storage. */
export interface StoreDeps {
  disk: DiskBackend;
  mp: Multipart;
  region: string;
  log: Logger;
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  t: RequestTarget;
  /** Effective request headers (lowercase), see request.ts effectiveHeaders. */
  h: Map<string, string>;
  auth: AuthResult;
  /** Aborted when the store closes: in-flight bodies stop and their temp files go. */
  signal: AbortSignal;
  deps: StoreDeps;
  /** Call right before reading the body: answers a pending `Expect: 100-continue`. */
  startBody(): void;
}

export type Handler = (ctx: Ctx) => Promise<void>;

export function send(ctx: Ctx, status: number, headers: OutgoingHttpHeaders = {}, body?: string | Buffer): void {
  const { res } = ctx;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) res.setHeader(k, v);
  if (body === undefined || ctx.req.method === 'HEAD') {
    if (body !== undefined && !res.hasHeader('content-length')) res.setHeader('content-length', Buffer.byteLength(body));
    if (body === undefined && status !== 204 && status !== 304 && !res.hasHeader('content-length')) res.setHeader('content-length', 0);
    res.end();
    return;
  }
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

export function sendXml(ctx: Ctx, status: number, xml: string, headers: OutgoingHttpHeaders = {}): void {
  send(ctx, status, { 'content-type': 'application/xml', ...headers }, xml);
}

export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

/** Headers describing a stored object (GET and HEAD). */
export function objectHeaders(meta: ObjectMeta, withChecksums: boolean): OutgoingHttpHeaders {
  const h: OutgoingHttpHeaders = {
    'content-type': meta.contentType,
    etag: quoteEtag(meta.etag),
    'last-modified': new Date(meta.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
    ...meta.headers,
  };
  for (const [k, v] of Object.entries(meta.metadata)) h[`x-amz-meta-${k}`] = v;
  if (meta.tags?.length) h['x-amz-tagging-count'] = String(meta.tags.length);
  if (withChecksums) {
    for (const [alg, v] of Object.entries(meta.checksums)) h[checksumHeader(alg as ChecksumAlgorithm)] = v;
    if (Object.keys(meta.checksums).length > 0) h['x-amz-checksum-type'] = meta.checksumType ?? 'FULL_OBJECT';
  }
  return h;
}

/** System headers kept with an object, as sent on PutObject / CreateMultipartUpload. */
const KEPT_HEADERS = ['cache-control', 'content-disposition', 'content-language', 'expires'];

export function storedHeaders(h: Map<string, string>): { contentType: string; headers: Record<string, string>; metadata: Record<string, string> } {
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = h.get(name);
    if (v !== undefined) headers[name] = v;
  }
  const enc = (h.get('content-encoding') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked');
  if (enc.length > 0) headers['content-encoding'] = enc.join(', ');
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [k, v] of h) {
    if (!k.startsWith('x-amz-meta-') || k.length <= 11) continue;
    metadata[k.slice(11)] = v;
    bytes += Buffer.byteLength(k.slice(11)) + Buffer.byteLength(v);
  }
  if (bytes > 2048) throw new S3Error('MetadataTooLarge', `Your metadata headers exceed the maximum allowed metadata size: ${bytes} bytes, at most 2048.`);
  return { contentType: h.get('content-type') ?? 'binary/octet-stream', headers, metadata };
}
