import type { Ctx } from './context.js';
import type { ObjectMeta } from './DiskBackend.js';
import { copySourceCheck } from './preconditions.js';
import { parseQuery, validateBucketName, validateKey } from './request.js';
import { S3Error } from './S3Error.js';

/**
 * The source of CopyObject and UploadPartCopy: which object (`x-amz-copy-source`, URL-encoded
 * `bucket/key` with an optional leading `/` and `?versionId=`), under which conditions
 * (`x-amz-copy-source-if-*`, preconditions.ts) and, for a part, which bytes
 * (`x-amz-copy-source-range`). Any credential the store accepts may read every bucket, so the
 * source needs no permission beyond the request's own signature.
 */

export interface CopySource {
  bucket: string;
  key: string;
  meta: ObjectMeta;
}

function badSource(raw: string, why: string): S3Error {
  return new S3Error('InvalidArgument', `x-amz-copy-source ${why}: send the URL-encoded "source-bucket/source-key" (e.g. encodeURIComponent of each part).`, {
    extra: { ArgumentName: 'x-amz-copy-source', ArgumentValue: raw.slice(0, 200) },
  });
}

function decode(raw: string, s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw badSource(raw, 'is not valid percent-encoding');
  }
}

/** Bucket and key named by an x-amz-copy-source value (not yet checked to exist). */
export function parseCopySource(value: string): { bucket: string; key: string } {
  // node:http reads header bytes as latin1: a client that sent the key as raw UTF-8 (not
  // percent-encoded) gets its characters back here.
  // eslint-disable-next-line no-control-regex -- [^\x00-\xff]: any character outside latin1
  const raw = /[\x80-\xff]/.test(value) && !/[^\x00-\xff]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
  const qi = raw.indexOf('?');
  const path = qi === -1 ? raw : raw.slice(0, qi);
  if (qi !== -1) {
    const query = parseQuery(raw.slice(qi + 1));
    for (const [name, v] of Object.entries(query)) {
      if (name !== 'versionId') throw badSource(raw, `has a query parameter "${name.slice(0, 40)}"; only versionId is defined`);
      // Buckets here are never versioned: the one version of every object is the "null" one.
      if (v !== 'null') {
        throw new S3Error('InvalidArgument', `This store keeps no object versions, so x-amz-copy-source versionId "${String(v).slice(0, 80)}" names none: copy without ?versionId= (or with versionId=null).`, {
          extra: { ArgumentName: 'versionId', ArgumentValue: String(v).slice(0, 200) },
        });
      }
    }
  }
  // Decoded whole: clients encode each key segment, or all of "bucket/key" (then "/" is %2F);
  // a leading "/" is optional.
  const decoded = decode(raw, path).replace(/^\//, '');
  if (decoded.startsWith('arn:')) throw badSource(raw, 'is an access point ARN, which this store does not have');
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw badSource(raw, 'must name the source bucket and key as "bucket/key"');
  const bucket = decoded.slice(0, slash);
  const key = decoded.slice(slash + 1);
  validateBucketName(bucket);
  validateKey(key);
  return { bucket, key };
}

/**
 * The request's copy source as it is now, with its x-amz-copy-source-if-* conditions checked
 * (412 PreconditionFailed). Synchronous on purpose: the caller pins or streams the object right
 * after, before any await lets an overwrite or delete remove its segment files.
 */
export function resolveCopySource(ctx: Ctx): CopySource {
  const { disk } = ctx.deps;
  const { bucket, key } = parseCopySource(ctx.h.get('x-amz-copy-source') ?? '');
  disk.requireBucket(bucket);
  const meta = disk.head(bucket, key);
  if (!meta) throw new S3Error('NoSuchKey', `The specified key does not exist: the copy source "${bucket}/${key.slice(0, 200)}" is not there.`, { extra: { Key: key } });
  copySourceCheck(ctx.h, meta);
  return { bucket, key, meta };
}

export interface CopyRange {
  start: number;
  /** inclusive */
  end: number;
}

/**
 * x-amz-copy-source-range `bytes=first-last` (both offsets, inclusive, within the object; no
 * suffix or open ranges, unlike a GET's Range); undefined without the header: the whole object.
 * Errors as S3 answers them: 400 InvalidArgument for a malformed or unsatisfiable range.
 */
export function parseCopyRange(header: string | undefined, size: number): CopyRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{1,16})-(\d{1,16})$/.exec(header.trim());
  const extra = { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header.slice(0, 100) };
  if (!m) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { extra });
  }
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (start > end || end >= size) throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${size}`, { extra });
  return { start, end };
}
