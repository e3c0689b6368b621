import { checkNoBody, planBody, receiveSmall } from './body.js';
import { send, sendXml, quoteEtag, type Ctx } from './context.js';
import type { ObjectMeta } from './DiskBackend.js';
import { decodeToken, encodeToken, listKeys } from './listing.js';
import { hasQuery, intParam, queryParam, validateKey } from './request.js';
import { S3Error, isS3Error } from './S3Error.js';
import { parseCreateBucketConfiguration, parseDeleteObjects, xmlDate, xmlDocument } from './xml.js';

/** Service- and bucket-level operations: buckets, listings, multi-object delete. */

function owner(ctx: Ctx): { ID: string; DisplayName: string } {
  return { ID: ctx.auth.accessKeyId, DisplayName: ctx.auth.accessKeyId };
}

/** Reads a request body that may be absent (CreateBucket's optional configuration). */
async function optionalSmallBody(ctx: Ctx, limit: number): Promise<Buffer> {
  const noLength = !ctx.h.has('content-length') && !ctx.h.has('x-amz-decoded-content-length') && !ctx.h.has('transfer-encoding');
  if (noLength) {
    checkNoBody(ctx.auth.payload);
    return Buffer.alloc(0);
  }
  const plan = planBody(ctx.h, ctx.auth.payload, limit);
  ctx.startBody();
  return (await receiveSmall(ctx.req, plan, limit, ctx.signal)).body;
}

export async function listBuckets(ctx: Ctx): Promise<void> {
  const buckets = ctx.deps.disk.listBuckets().map((b) => ({ Name: b.name, CreationDate: xmlDate(b.created) }));
  sendXml(ctx, 200, xmlDocument('ListAllMyBucketsResult', { Owner: owner(ctx), Buckets: { Bucket: buckets } }));
}

export async function createBucket(ctx: Ctx): Promise<void> {
  const body = await optionalSmallBody(ctx, 64 * 1024);
  const constraint = parseCreateBucketConfiguration(body.toString('utf8'));
  if (constraint && constraint !== ctx.deps.region) {
    throw new S3Error('InvalidArgument', `The specified location-constraint "${constraint}" is not valid: this store serves region ${ctx.deps.region}.`);
  }
  const created = await ctx.deps.disk.createBucket(ctx.t.bucket);
  // us-east-1 answers 200 to its owner creating a bucket again; other regions 409.
  if (!created && ctx.deps.region !== 'us-east-1') throw new S3Error('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', { extra: { BucketName: ctx.t.bucket } });
  send(ctx, 200, { location: `/${ctx.t.bucket}` });
}

export async function headBucket(ctx: Ctx): Promise<void> {
  ctx.deps.disk.requireBucket(ctx.t.bucket);
  send(ctx, 200, { 'x-amz-bucket-region': ctx.deps.region });
}

export async function deleteBucket(ctx: Ctx): Promise<void> {
  await ctx.deps.disk.deleteBucket(ctx.t.bucket, () => ctx.deps.mp.hasUploads(ctx.t.bucket));
  send(ctx, 204);
}

export async function getBucketLocation(ctx: Ctx): Promise<void> {
  ctx.deps.disk.requireBucket(ctx.t.bucket);
  // us-east-1 is reported as an empty constraint, as S3 does.
  sendXml(ctx, 200, xmlDocument('LocationConstraint', { '#text': ctx.deps.region === 'us-east-1' ? '' : ctx.deps.region }));
}

export async function getBucketVersioning(ctx: Ctx): Promise<void> {
  ctx.deps.disk.requireBucket(ctx.t.bucket);
  // A bucket that never had versioning has no Status element.
  sendXml(ctx, 200, xmlDocument('VersioningConfiguration', {}));
}

function encoder(ctx: Ctx): (s: string) => string {
  const type = queryParam(ctx.t, 'encoding-type');
  if (type !== undefined && type !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request: encoding-type must be "url"', { extra: { ArgumentName: 'encoding-type' } });
  return type === 'url' ? (s) => encodeURIComponent(s).replace(/%2F/g, '/') : (s) => s;
}

function contents(ctx: Ctx, list: ObjectMeta[], enc: (s: string) => string, withOwner: boolean): unknown[] {
  return list.map((m) => ({
    Key: enc(m.key),
    LastModified: xmlDate(m.lastModified),
    ETag: quoteEtag(m.etag),
    ...(Object.keys(m.checksums).length > 0 ? { ChecksumAlgorithm: Object.keys(m.checksums), ChecksumType: m.checksumType ?? 'FULL_OBJECT' } : {}),
    Size: m.size,
    ...(withOwner ? { Owner: owner(ctx) } : {}),
    StorageClass: 'STANDARD',
  }));
}

function listParams(ctx: Ctx): { prefix: string; delimiter?: string; maxKeys: number } {
  const delimiter = queryParam(ctx.t, 'delimiter');
  return {
    prefix: queryParam(ctx.t, 'prefix') ?? '',
    delimiter: delimiter === '' ? undefined : delimiter,
    maxKeys: Math.min(intParam(ctx.t, 'max-keys', 0, 2 ** 31 - 1) ?? 1000, 1000),
  };
}

export async function listObjectsV2(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  const bucket = ctx.t.bucket;
  const keys = disk.sortedKeys(bucket);
  const enc = encoder(ctx);
  const p = listParams(ctx);
  const token = queryParam(ctx.t, 'continuation-token');
  const startAfter = queryParam(ctx.t, 'start-after');
  const from = token !== undefined ? decodeToken(token) : undefined;
  const r = listKeys(keys, (k) => disk.head(bucket, k), {
    ...p,
    after: from ? from.value : startAfter,
    skipPrefix: from?.isPrefix ? from.value : undefined,
  });
  sendXml(
    ctx,
    200,
    xmlDocument('ListBucketResult', {
      Name: bucket,
      Prefix: enc(p.prefix),
      Delimiter: p.delimiter === undefined ? undefined : enc(p.delimiter),
      MaxKeys: p.maxKeys,
      EncodingType: queryParam(ctx.t, 'encoding-type'),
      KeyCount: r.contents.length + r.commonPrefixes.length,
      IsTruncated: r.truncated,
      ContinuationToken: token,
      NextContinuationToken: r.truncated && r.last ? encodeToken(r.last) : undefined,
      StartAfter: startAfter === undefined ? undefined : enc(startAfter),
      Contents: contents(ctx, r.contents, enc, queryParam(ctx.t, 'fetch-owner') === 'true'),
      CommonPrefixes: r.commonPrefixes.map((cp) => ({ Prefix: enc(cp) })),
    }),
  );
}

export async function listObjectsV1(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  const bucket = ctx.t.bucket;
  const enc = encoder(ctx);
  const p = listParams(ctx);
  const marker = queryParam(ctx.t, 'marker');
  const skipPrefix = marker !== undefined && p.delimiter !== undefined && marker.endsWith(p.delimiter) && marker.startsWith(p.prefix) ? marker : undefined;
  const r = listKeys(disk.sortedKeys(bucket), (k) => disk.head(bucket, k), { ...p, after: marker, skipPrefix });
  sendXml(
    ctx,
    200,
    xmlDocument('ListBucketResult', {
      Name: bucket,
      Prefix: enc(p.prefix),
      Marker: enc(marker ?? ''),
      NextMarker: r.truncated && p.delimiter !== undefined && r.last ? enc(r.last.value) : undefined,
      Delimiter: p.delimiter === undefined ? undefined : enc(p.delimiter),
      MaxKeys: p.maxKeys,
      EncodingType: queryParam(ctx.t, 'encoding-type'),
      IsTruncated: r.truncated,
      Contents: contents(ctx, r.contents, enc, true),
      CommonPrefixes: r.commonPrefixes.map((cp) => ({ Prefix: enc(cp) })),
    }),
  );
}

/** POST /bucket?delete: DeleteObjects, answering per key. */
export async function deleteObjects(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  disk.requireBucket(ctx.t.bucket);
  const plan = planBody(ctx.h, ctx.auth.payload, 2 * 1024 * 1024);
  if (plan.contentMd5 === undefined && Object.keys(plan.expected).length === 0 && plan.trailer === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 or x-amz-checksum-*');
  }
  ctx.startBody();
  const { body } = await receiveSmall(ctx.req, plan, 2 * 1024 * 1024, ctx.signal);
  const { keys, quiet } = parseDeleteObjects(body.toString('utf8'));
  const deleted: unknown[] = [];
  const errors: unknown[] = [];
  for (const key of keys) {
    try {
      validateKey(key);
      await disk.deleteObject(ctx.t.bucket, key);
      if (!quiet) deleted.push({ Key: key });
    } catch (e) {
      if (!isS3Error(e)) throw e;
      errors.push({ Key: key, Code: e.s3Code, Message: e.message });
    }
  }
  sendXml(ctx, 200, xmlDocument('DeleteResult', { Deleted: deleted, Error: errors }));
}

export function isListV2(ctx: Ctx): boolean {
  return queryParam(ctx.t, 'list-type') === '2' || hasQuery(ctx.t, 'continuation-token') || hasQuery(ctx.t, 'start-after');
}
