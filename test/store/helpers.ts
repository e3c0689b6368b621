import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { makeS3Client } from '../../src/core/s3client.js';
import type { EmbeddedStoreTarget } from '../support/store.js';
import { waitFor } from '../support/wait.js';

/** Shared setup of the store's own tests: clients, raw signed requests over node:net. */

export const MiB = 1024 * 1024;
export const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

export function sha256hex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export function md5hex(b: Uint8Array | string): string {
  return createHash('md5').update(b).digest('hex');
}

export function clientFor(t: EmbeddedStoreTarget, over: { secretAccessKey?: string; accessKeyId?: string } = {}): S3Client {
  return makeS3Client(
    { endpoint: t.endpoint, region: t.region, accessKeyId: over.accessKeyId ?? t.accessKeyId, secretAccessKey: over.secretAccessKey ?? t.secretAccessKey, forcePathStyle: true },
    { maxAttempts: 1 },
  );
}

export async function newBucket(s3: S3Client, prefix = 'st'): Promise<string> {
  const bucket = `${prefix}-${randomBytes(5).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

export async function keysOf(s3: S3Client, bucket: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

export async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (e) {
    if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw e;
  }
}

/** Files left in the store's temp folder (in-flight bodies). */
export async function tmpFiles(t: EmbeddedStoreTarget): Promise<string[]> {
  return readdir(join(t.dataDir, 'tmp')).catch(() => []);
}

export function signer(t: EmbeddedStoreTarget, secretAccessKey = t.secretAccessKey): SignatureV4 {
  return new SignatureV4({ credentials: { accessKeyId: t.accessKeyId, secretAccessKey }, region: t.region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
}

export interface RawSpec {
  method: string;
  /** Path exactly as it goes on the wire (already percent-encoded). */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** x-amz-content-sha256; defaults to UNSIGNED-PAYLOAD. */
  payloadHash?: string;
  signingDate?: Date;
  secretAccessKey?: string;
}

/** A request head signed with SigV4 (header auth) for a raw socket. */
export async function signedHead(t: EmbeddedStoreTarget, spec: RawSpec): Promise<{ head: string; signature: string; date: Date }> {
  const url = new URL(t.endpoint);
  const date = spec.signingDate ?? new Date();
  const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': spec.payloadHash ?? 'UNSIGNED-PAYLOAD', ...spec.headers };
  const req = new HttpRequest({ method: spec.method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: spec.path, query: spec.query ?? {}, headers });
  const signed = await signer(t, spec.secretAccessKey).sign(req, { signingDate: date });
  const qs = Object.entries(spec.query ?? {})
    .map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`))
    .join('&');
  const lines = [`${spec.method} ${spec.path}${qs ? '?' + qs : ''} HTTP/1.1`, ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`)];
  const signature = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))![1];
  return { head: lines.join('\r\n') + '\r\n\r\n', signature, date };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses every complete HTTP/1.1 response in `buf` (Content-Length framed, as the store sends). */
export function parseResponses(buf: Buffer, headRequest = false): RawResponse[] {
  const out: RawResponse[] = [];
  let i = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', i);
    if (end === -1) break;
    const lines = buf.toString('latin1', i, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0])?.[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    const len = headRequest || status === 100 || status === 204 || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + len) break;
    if (status !== 100) out.push({ status, headers, body: buf.subarray(end + 4, end + 4 + len) });
    i = end + 4 + len;
  }
  return out;
}

/**
 * Writes `parts` to a fresh connection, optionally half-closes or destroys it, and collects what
 * the store answers until it closes, `responses` responses are in, or `waitMs` passes. With
 * `awaitContinue`, the parts after the first (the head) wait for the store's 100 Continue, as
 * a client that sent `Expect: 100-continue` does.
 */
export async function rawExchange(
  t: EmbeddedStoreTarget,
  parts: Array<string | Buffer>,
  opts: { awaitContinue?: boolean; after?: 'end' | 'destroy' | 'keep'; waitMs?: number; head?: boolean; responses?: number } = {},
): Promise<{ responses: RawResponse[]; raw: Buffer; closedByServer: boolean }> {
  const url = new URL(t.endpoint);
  const sock = connect(Number(url.port), url.hostname);
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const chunks: Buffer[] = [];
  let closedByServer = false;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, opts.waitMs ?? 5000);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (opts.responses !== undefined && parseResponses(Buffer.concat(chunks), opts.head).length >= opts.responses) {
        clearTimeout(timer);
        resolve();
      }
    });
    sock.once('close', () => {
      closedByServer = true;
      clearTimeout(timer);
      resolve();
    });
  });
  for (const [n, p] of parts.entries()) {
    if (n === 1 && opts.awaitContinue) {
      await waitFor(() => sock.destroyed || /^HTTP\/1\.1 100 Continue\r\n/.test(Buffer.concat(chunks).toString('latin1')), 'the store\'s 100 Continue', opts.waitMs ?? 5000, { intervalMs: 5 });
    }
    if (!sock.destroyed) sock.write(p);
  }
  if (opts.after === 'end') sock.end();
  if (opts.after === 'destroy') sock.destroy();
  await done;
  sock.destroy();
  const raw = Buffer.concat(chunks);
  return { responses: parseResponses(raw, opts.head), raw, closedByServer };
}

export function xmlCode(body: Buffer | string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body.toString())?.[1];
}

/** Asserts one raw response: status and (for bodies) the S3 error code. */
export function assertS3Error(r: RawResponse | undefined, status: number, code: string | undefined, what: string): void {
  assert.ok(r, `${what}: no response`);
  assert.equal(r.status, status, `${what}: HTTP ${r.status} ${r.body.toString().slice(0, 300)}`);
  if (code !== undefined) assert.equal(xmlCode(r.body), code, `${what}: ${r.body.toString().slice(0, 300)}`);
}

/** S3 key path encoding as the SDK does it (every byte but unreserved and "/"). */
export function encodeKey(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}
