import { MAX_PART_SIZE } from '../core/schemas/backend.js';
import { algorithmHeader } from './checksums.js';
import { quoteEtag, sendXml, storedHeaders, type Ctx } from './context.js';
import { copyToFile } from './copyBytes.js';
import { parseCopyRange, resolveCopySource, type CopySource } from './copySource.js';
import type { NewObject, ObjectMeta } from './DiskBackend.js';
import { isErrno, unlinkQuiet } from './fsutil.js';
import { checksumElements, partTarget } from './multipartRoutes.js';
import { writeCheck } from './preconditions.js';
import { S3Error } from './S3Error.js';
import { taggingDirective, taggingHeader } from './tagging.js';
import { xmlDate, xmlDocument } from './xml.js';

/**
 * Server-side copies: CopyObject (PUT with x-amz-copy-source) and UploadPartCopy (the same on
 * ?partNumber&uploadId). What `aws s3 mv`, S3-to-S3 `aws s3 cp`, `rclone sync` (a changed mtime is
 * set by copying the object onto itself), renames and chmod on rclone / s3fs mounts,
 * `s3cmd cp|mv` and boto3's `copy` send.
 *
 * CopyObject hard-links the source's segment files into the new object (no byte is read or
 * written, so a copy costs the same for 1 KiB and 5 GiB and keeps the source's ETag, as Ceph RGW
 * does), committed like any object: links first, then the meta file's atomic rename. Only a copy
 * asking for a checksum the source does not have is streamed into a temp file. Tags follow
 * x-amz-tagging-directive as metadata follows its directive. UploadPartCopy
 * streams the range into a temp file, which becomes the part as an uploaded body does.
 */

/** S3's limit for one CopyObject (and one part): larger objects are copied in parts. */
const MAX_COPY_BYTES = MAX_PART_SIZE;

function metadataDirective(ctx: Ctx): 'COPY' | 'REPLACE' {
  const raw = ctx.h.get('x-amz-metadata-directive');
  const v = (raw ?? 'COPY').trim().toUpperCase();
  if (v !== 'COPY' && v !== 'REPLACE') {
    throw new S3Error('InvalidArgument', `Unknown metadata directive "${raw!.slice(0, 40)}": x-amz-metadata-directive is COPY (keep the source's) or REPLACE (take this request's).`, {
      extra: { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: raw!.slice(0, 100) },
    });
  }
  return v;
}

function tooLarge(size: number, what: string): S3Error {
  return new S3Error('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_COPY_BYTES} (it has ${size} bytes); copy it ${what}.`, {
    extra: { ProposedSize: String(size), MaxSizeAllowed: String(MAX_COPY_BYTES) },
  });
}

/** Errors of a source that went away mid-copy (its bucket deleted), as a lookup would answer. */
function sourceGone(ctx: Ctx, src: CopySource, e: unknown): unknown {
  if (!isErrno(e, 'ENOENT') || ctx.deps.disk.hasBucket(src.bucket)) return e;
  return new S3Error('NoSuchBucket', `The specified bucket does not exist: the copy source's bucket "${src.bucket}" was deleted during the copy.`, { extra: { BucketName: src.bucket } });
}

export async function copyObject(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  const { bucket, key } = ctx.t;
  disk.requireBucket(bucket);
  if (ctx.h.has('x-amz-copy-source-range')) {
    throw new S3Error('InvalidArgument', 'x-amz-copy-source-range applies to UploadPartCopy only; CopyObject copies the whole object (copy a range into a multipart upload part instead).', { extra: { ArgumentName: 'x-amz-copy-source-range' } });
  }
  const directive = metadataDirective(ctx);
  const alg = algorithmHeader(ctx.h, 'x-amz-checksum-algorithm');
  // REPLACE takes content type, system headers and x-amz-meta-* from this request (checked
  // before any work); COPY keeps the source's and ignores the request's.
  const replaced = directive === 'REPLACE' ? storedHeaders(ctx.h) : undefined;
  // Tags likewise: COPY keeps the source's, REPLACE takes x-amz-tagging (none without it).
  const replacedTags = taggingDirective(ctx.h) === 'REPLACE' ? (taggingHeader(ctx.h) ?? []) : undefined;
  const check = writeCheck(ctx.h);
  check(disk.head(bucket, key));
  const src = resolveCopySource(ctx);
  if (src.meta.size > MAX_COPY_BYTES) throw tooLarge(src.meta.size, 'with a multipart upload of UploadPartCopy ranges');
  const rewrite = alg !== undefined && src.meta.checksums[alg] === undefined;
  if (src.bucket === bucket && src.key === key && directive === 'COPY' && !rewrite) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes (send x-amz-metadata-directive: REPLACE to change its metadata).",
    );
  }
  const tags = replacedTags ?? src.meta.tags ?? [];
  const fields = { ...(replaced ?? { contentType: src.meta.contentType, headers: src.meta.headers, metadata: src.meta.metadata }), ...(tags.length ? { tags } : {}) };
  let meta: ObjectMeta;
  if (!rewrite) {
    // Pinned right after the lookup (no await in between): an overwrite or delete of the source
    // meanwhile leaves its files until the links are made.
    const unpin = disk.pin(src.bucket, src.meta);
    try {
      const { etag, size, checksums, checksumType, uploadId } = src.meta;
      const obj: NewObject = { key, size, etag, ...fields, checksums, ...(checksumType ? { checksumType } : {}), ...(uploadId ? { uploadId } : {}) };
      meta = await disk.withKeyLock(bucket, key, async () => {
        check(disk.head(bucket, key));
        return disk.commitLocked(bucket, obj, disk.linkSources(src.bucket, src.meta));
      });
    } catch (e) {
      throw sourceGone(ctx, src, e);
    } finally {
      unpin();
    }
  } else {
    const tmp = disk.tmpPath();
    const body = await copyToFile(disk, src.bucket, src.meta, 0, src.meta.size - 1, tmp, [alg!], ctx.signal);
    try {
      meta = await disk.withKeyLock(bucket, key, async () => {
        check(disk.head(bucket, key));
        return disk.commitLocked(bucket, { key, size: body.size, etag: body.md5, ...fields, checksums: body.checksums }, [{ path: tmp, size: body.size, mode: 'rename' }]);
      });
    } catch (e) {
      await unlinkQuiet(tmp);
      throw e;
    }
  }
  sendXml(ctx, 200, xmlDocument('CopyObjectResult', { ETag: quoteEtag(meta.etag), LastModified: xmlDate(meta.lastModified), ...checksumElements(meta.checksums) }));
}

export async function uploadPartCopy(ctx: Ctx): Promise<void> {
  const { disk, mp } = ctx.deps;
  const { bucket, key } = ctx.t;
  const { n, uploadId, info } = partTarget(ctx);
  const src = resolveCopySource(ctx);
  const range = parseCopyRange(ctx.h.get('x-amz-copy-source-range'), src.meta.size) ?? { start: 0, end: src.meta.size - 1 };
  const length = range.end - range.start + 1;
  if (length > MAX_COPY_BYTES) throw tooLarge(length, 'in ranges of at most 5 GiB (x-amz-copy-source-range)');
  const tmp = disk.tmpPath();
  const body = await copyToFile(disk, src.bucket, src.meta, range.start, range.end, tmp, info.checksumAlgorithm ? [info.checksumAlgorithm] : [], ctx.signal).catch((e: unknown) => {
    throw sourceGone(ctx, src, e);
  });
  let part;
  try {
    part = await mp.putPart(uploadId, bucket, key, n, { path: tmp, ...body });
  } catch (e) {
    await unlinkQuiet(tmp); // putPart moved it into the upload on success
    throw e;
  }
  sendXml(ctx, 200, xmlDocument('CopyPartResult', { ETag: quoteEtag(part.etag), LastModified: xmlDate(part.lastModified), ...checksumElements(part.checksums) }));
}
