import { MAX_PART_SIZE, MAX_PARTS } from '../core/schemas/backend.js';
import { planBody, receiveSmall, receiveToFile } from './body.js';
import type { ChecksumAlgorithm } from './checksums.js';
import { quoteEtag, send, sendXml, storedHeaders, type Ctx } from './context.js';
import { compareKeys, unlinkQuiet } from './fsutil.js';
import { uploadChecksumOf, type UploadInfo } from './Multipart.js';
import { completeBodyHeaders, completeChecksumRequest, uploadChecksum } from './multipartChecksum.js';
import { checksumResponseHeaders } from './objectRoutes.js';
import { writeCheck } from './preconditions.js';
import { intParam, queryParam } from './request.js';
import { S3Error } from './S3Error.js';
import { taggingHeader } from './tagging.js';
import { parseCompleteMultipart, xmlDate, xmlDocument } from './xml.js';

/** The multipart family: Create, UploadPart, ListParts, ListMultipartUploads, Complete, Abort (UploadPartCopy: copyRoutes.ts). */

export function uploadIdOf(ctx: Ctx): string {
  const id = queryParam(ctx.t, 'uploadId') ?? '';
  // Unknown ids of any shape are NoSuchUpload; the check happens in Multipart.
  return id;
}

function owner(ctx: Ctx): { ID: string; DisplayName: string } {
  return { ID: ctx.auth.accessKeyId, DisplayName: ctx.auth.accessKeyId };
}

export function checksumElements(checksums: Partial<Record<ChecksumAlgorithm, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [alg, v] of Object.entries(checksums)) out[`Checksum${alg}`] = v;
  return out;
}

/** ChecksumAlgorithm and ChecksumType of an upload in ListParts and ListMultipartUploads. */
function uploadChecksumElements(info: UploadInfo): Record<string, string> {
  const c = uploadChecksumOf(info);
  return c ? { ChecksumAlgorithm: c.algorithm, ChecksumType: c.type } : {};
}

export async function createMultipartUpload(ctx: Ctx): Promise<void> {
  const { disk, mp } = ctx.deps;
  disk.requireBucket(ctx.t.bucket);
  const checksum = uploadChecksum(ctx.h);
  const tags = taggingHeader(ctx.h);
  const info = await mp.create({
    bucket: ctx.t.bucket,
    key: ctx.t.key,
    ...storedHeaders(ctx.h),
    ...(checksum ? { checksumAlgorithm: checksum.algorithm, checksumType: checksum.type } : {}),
    ...(tags?.length ? { tags } : {}),
  });
  const headers = checksum ? { 'x-amz-checksum-algorithm': checksum.algorithm, 'x-amz-checksum-type': checksum.type } : {};
  sendXml(ctx, 200, xmlDocument('InitiateMultipartUploadResult', { Bucket: info.bucket, Key: info.key, UploadId: info.uploadId }), headers);
}

/** The partNumber of UploadPart and UploadPartCopy, 1 to 10,000. */
export function partNumberOf(ctx: Ctx): number {
  const raw = queryParam(ctx.t, 'partNumber') ?? '';
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PARTS) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive (got "${raw.slice(0, 20)}").`, { extra: { ArgumentName: 'partNumber', ArgumentValue: raw.slice(0, 20) } });
  }
  return Number(raw);
}

/** What UploadPart and UploadPartCopy check first: the part number, the bucket, the open upload. */
export function partTarget(ctx: Ctx): { n: number; uploadId: string; info: ReturnType<Ctx['deps']['mp']['require']> } {
  const { bucket, key } = ctx.t;
  const n = partNumberOf(ctx);
  ctx.deps.disk.requireBucket(bucket);
  const uploadId = uploadIdOf(ctx);
  return { n, uploadId, info: ctx.deps.mp.require(uploadId, bucket, key) };
}

export async function uploadPart(ctx: Ctx): Promise<void> {
  const { disk, mp } = ctx.deps;
  const { bucket, key } = ctx.t;
  const { n, uploadId, info } = partTarget(ctx);
  const plan = planBody(ctx.h, ctx.auth.payload, MAX_PART_SIZE, info.checksumAlgorithm);
  ctx.startBody();
  const tmp = disk.tmpPath();
  const body = await receiveToFile(ctx.req, plan, tmp, ctx.signal);
  let part;
  try {
    part = await mp.putPart(uploadId, bucket, key, n, { path: tmp, ...body });
  } catch (e) {
    await unlinkQuiet(tmp); // putPart moved it into the upload on success
    throw e;
  }
  send(ctx, 200, { etag: quoteEtag(part.etag), ...checksumResponseHeaders(part.checksums) });
}

export async function listParts(ctx: Ctx): Promise<void> {
  const { disk, mp } = ctx.deps;
  disk.requireBucket(ctx.t.bucket);
  const uploadId = uploadIdOf(ctx);
  const max = Math.min(intParam(ctx.t, 'max-parts', 0, 2 ** 31 - 1) ?? 1000, 1000);
  const marker = intParam(ctx.t, 'part-number-marker', 0, 2 ** 31 - 1) ?? 0;
  const r = mp.listParts(uploadId, ctx.t.bucket, ctx.t.key, marker, max);
  const last = r.parts.at(-1)?.partNumber;
  sendXml(
    ctx,
    200,
    xmlDocument('ListPartsResult', {
      Bucket: r.info.bucket,
      Key: r.info.key,
      UploadId: uploadId,
      Initiator: owner(ctx),
      Owner: owner(ctx),
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: last ?? marker,
      MaxParts: max,
      IsTruncated: r.truncated,
      ...uploadChecksumElements(r.info),
      Part: r.parts.map((p) => ({ PartNumber: p.partNumber, LastModified: xmlDate(p.lastModified), ETag: quoteEtag(p.etag), Size: p.size, ...checksumElements(p.checksums) })),
    }),
  );
}

export async function listMultipartUploads(ctx: Ctx): Promise<void> {
  const { disk, mp } = ctx.deps;
  const bucket = ctx.t.bucket;
  disk.requireBucket(bucket);
  const prefix = queryParam(ctx.t, 'prefix') ?? '';
  const delimiter = queryParam(ctx.t, 'delimiter') || undefined;
  const keyMarker = queryParam(ctx.t, 'key-marker');
  const uploadIdMarker = queryParam(ctx.t, 'upload-id-marker');
  const max = Math.min(intParam(ctx.t, 'max-uploads', 0, 2 ** 31 - 1) ?? 1000, 1000);
  const all = mp.listUploads(bucket, { prefix, keyMarker, uploadIdMarker, max: Number.MAX_SAFE_INTEGER }).uploads;
  const uploads: typeof all = [];
  const prefixes: string[] = [];
  let truncated = false;
  for (const u of all) {
    const d = delimiter ? u.key.indexOf(delimiter, prefix.length) : -1;
    const cp = delimiter && d !== -1 ? u.key.slice(0, d + delimiter.length) : undefined;
    if (cp !== undefined && prefixes.at(-1) === cp) continue;
    if (uploads.length + prefixes.length >= max) {
      truncated = true;
      break;
    }
    if (cp !== undefined) prefixes.push(cp);
    else uploads.push(u);
  }
  const lastUpload = uploads.at(-1);
  const lastPrefix = prefixes.at(-1);
  const nextKey = lastPrefix !== undefined && (!lastUpload || compareKeys(lastPrefix, lastUpload.key) > 0) ? lastPrefix : lastUpload?.key;
  sendXml(
    ctx,
    200,
    xmlDocument('ListMultipartUploadsResult', {
      Bucket: bucket,
      KeyMarker: keyMarker ?? '',
      UploadIdMarker: uploadIdMarker ?? '',
      NextKeyMarker: truncated ? nextKey : undefined,
      NextUploadIdMarker: truncated && nextKey === lastUpload?.key ? lastUpload?.uploadId : undefined,
      Prefix: prefix,
      Delimiter: delimiter,
      MaxUploads: max,
      IsTruncated: truncated,
      Upload: uploads.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiator: owner(ctx), Owner: owner(ctx), StorageClass: 'STANDARD', Initiated: xmlDate(u.initiated), ...uploadChecksumElements(u) })),
      CommonPrefixes: prefixes.map((p) => ({ Prefix: p })),
    }),
  );
}

const COMPLETE_XML_LIMIT = 4 * 1024 * 1024;

export async function completeMultipartUpload(ctx: Ctx): Promise<void> {
  const { disk, mp } = ctx.deps;
  const { bucket, key } = ctx.t;
  disk.requireBucket(bucket);
  const uploadId = uploadIdOf(ctx);
  mp.require(uploadId, bucket, key);
  const check = writeCheck(ctx.h);
  const checksum = completeChecksumRequest(ctx.h);
  // x-amz-checksum-* here are the object's checksum, not the XML body's.
  const plan = planBody(completeBodyHeaders(ctx.h), ctx.auth.payload, COMPLETE_XML_LIMIT);
  ctx.startBody();
  const { body } = await receiveSmall(ctx.req, plan, COMPLETE_XML_LIMIT, ctx.signal);
  const parts = parseCompleteMultipart(body.toString('utf8'));
  const meta = await mp.complete(uploadId, bucket, key, parts, checksum, check);
  const host = ctx.h.get('host') ?? 'localhost';
  sendXml(
    ctx,
    200,
    xmlDocument('CompleteMultipartUploadResult', {
      Location: `http://${host}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`,
      Bucket: bucket,
      Key: key,
      ETag: quoteEtag(meta.etag),
      ...checksumElements(meta.checksums),
      ...(meta.checksumType ? { ChecksumType: meta.checksumType } : {}),
    }),
  );
}

export async function abortMultipartUpload(ctx: Ctx): Promise<void> {
  const { disk, mp } = ctx.deps;
  disk.requireBucket(ctx.t.bucket);
  await mp.abort(uploadIdOf(ctx), ctx.t.bucket, ctx.t.key);
  send(ctx, 204);
}
