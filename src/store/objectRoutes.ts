import type { OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { MAX_PART_SIZE } from '../core/schemas/backend.js';
import { planBody, receiveToFile } from './body.js';
import { checksumHeader, type ChecksumAlgorithm } from './checksums.js';
import { objectHeaders, quoteEtag, send, storedHeaders, type Ctx } from './context.js';
import type { ObjectMeta } from './DiskBackend.js';
import { unlinkQuiet } from './fsutil.js';
import { readCheck, writeCheck } from './preconditions.js';
import { intParam, queryParam } from './request.js';
import { S3Error } from './S3Error.js';
import { taggingHeader } from './tagging.js';

/** Object-level operations: PutObject, GetObject (ranges), HeadObject, DeleteObject (CopyObject: copyRoutes.ts). */

function noSuchKey(ctx: Ctx): S3Error {
  return new S3Error('NoSuchKey', 'The specified key does not exist.', { extra: { Key: ctx.t.key } });
}

export function checksumResponseHeaders(checksums: Partial<Record<ChecksumAlgorithm, string>>): OutgoingHttpHeaders {
  const h: OutgoingHttpHeaders = {};
  for (const [alg, v] of Object.entries(checksums)) h[checksumHeader(alg as ChecksumAlgorithm)] = v;
  return h;
}

export async function putObject(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  const { bucket, key } = ctx.t;
  disk.requireBucket(bucket);
  const check = writeCheck(ctx.h);
  // Fail fast before the body; the check that counts runs again under the key lock.
  check(disk.head(bucket, key));
  const stored = storedHeaders(ctx.h);
  const tags = taggingHeader(ctx.h);
  const plan = planBody(ctx.h, ctx.auth.payload, MAX_PART_SIZE);
  ctx.startBody();
  const tmp = disk.tmpPath();
  const body = await receiveToFile(ctx.req, plan, tmp, ctx.signal);
  let meta: ObjectMeta;
  try {
    meta = await disk.withKeyLock(bucket, key, async () => {
      check(disk.head(bucket, key));
      return disk.commitLocked(bucket, { key, size: body.size, etag: body.md5, ...stored, checksums: body.checksums, ...(tags?.length ? { tags } : {}) }, [{ path: tmp, size: body.size, mode: 'rename' }]);
    });
  } catch (e) {
    await unlinkQuiet(tmp);
    throw e;
  }
  send(ctx, 200, { etag: quoteEtag(meta.etag), ...checksumResponseHeaders(meta.checksums) });
}

interface ByteRange {
  start: number;
  end: number;
}

/** bytes=a-b, bytes=a-, bytes=-n; undefined for no (or an ignorable) Range header. */
function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // multiple or malformed ranges: the whole object, as S3 does
  const unsatisfiable = (): S3Error => new S3Error('InvalidRange', 'The requested range is not satisfiable', { extra: { RangeRequested: header, ActualObjectSize: String(size) } });
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return { start, end };
}

const OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

/** GetObject and HeadObject. */
export async function getObject(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  const { bucket, key } = ctx.t;
  disk.requireBucket(bucket);
  const meta = disk.head(bucket, key);
  if (!meta) throw noSuchKey(ctx);
  if (readCheck(ctx.h, meta) === 'not-modified') {
    send(ctx, 304, { etag: quoteEtag(meta.etag), 'last-modified': new Date(meta.lastModified).toUTCString() });
    return;
  }
  let range: ByteRange | undefined;
  const headers: OutgoingHttpHeaders = {};
  const partNumber = intParam(ctx.t, 'partNumber', 1, 10_000);
  if (partNumber !== undefined) {
    if (partNumber > meta.segments.length) throw new S3Error('InvalidRange', 'The requested part number is larger than the number of parts of the object', { extra: { PartNumberRequested: String(partNumber) } });
    const start = meta.segments.slice(0, partNumber - 1).reduce((n, s) => n + s.size, 0);
    const size = meta.segments[partNumber - 1].size;
    if (meta.uploadId) headers['x-amz-mp-parts-count'] = String(meta.segments.length);
    range = size === 0 ? undefined : { start, end: start + size - 1 };
  } else {
    range = parseRange(ctx.h.get('range'), meta.size);
  }
  const wholeObject = !range || (range.start === 0 && range.end === meta.size - 1 && partNumber === undefined);
  const checksumMode = ctx.h.get('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
  Object.assign(headers, objectHeaders(meta, checksumMode && wholeObject && partNumber === undefined));
  for (const [param, header] of Object.entries(OVERRIDES)) {
    const v = queryParam(ctx.t, param);
    if (v !== undefined) headers[header] = v;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? meta.size - 1;
  headers['content-length'] = String(Math.max(0, end - start + 1));
  if (range) headers['content-range'] = `bytes ${start}-${end}/${meta.size}`;
  const status = range ? 206 : 200;
  if (ctx.req.method === 'HEAD' || meta.size === 0 || end < start) {
    send(ctx, status, headers);
    return;
  }
  // readStream pins the segments right after head(): no await has run in between.
  const stream = disk.readStream(bucket, meta, start, end);
  try {
    ctx.res.writeHead(status, headers);
  } catch (e) {
    stream.destroy(); // releases the pinned segments
    throw e;
  }
  try {
    await pipeline(stream, ctx.res, { signal: ctx.signal });
  } catch (e) {
    ctx.deps.log.debug('GetObject stream ended early', { bucket, error: String(e) });
    ctx.res.destroy();
  }
}

export async function deleteObject(ctx: Ctx): Promise<void> {
  await ctx.deps.disk.deleteObject(ctx.t.bucket, ctx.t.key);
  send(ctx, 204);
}
