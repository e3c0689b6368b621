import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, S3Client, type S3ServiceException } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../../src/core/s3client.js';
import type { S3Target } from '../../support/targets.js';

export const MiB = 1024 * 1024;

/** What every check gets: the running target and a client built by the project's factory. */
export interface CheckContext {
  target: S3Target;
  /** makeS3Client with maxAttempts 1: a check must see the server's first answer, not a retry's. */
  s3: S3Client;
  /** Behaviour this suite knows about that the target's own `quirks` do not describe. */
  local: LocalQuirks;
}

export type GetCtx = () => CheckContext;

/**
 * Kept here rather than on S3Target because only this suite branches on them; each was seen on
 * Ceph RGW 16.2 (Pacific) from Debian 12. Where a target deviates from AWS, the check asserts the
 * deviation exactly, so a change in either direction is noticed.
 */
export interface LocalQuirks {
  /** Rejects a body whose x-amz-checksum-<alg> header does not match with 400 BadDigest, keeps
   *  and echoes the checksums (CRC64NVME too), and makes multipart checksums of the type asked
   *  for (x-amz-checksum-type COMPOSITE / FULL_OBJECT, refusing the combinations AWS refuses).
   *  RGW 16 predates flexible checksums: it accepts and ignores every x-amz-checksum-* header. */
  validatesFlexibleChecksums: boolean;
  /** Accepts aws-chunked stream bodies with a trailing x-amz-checksum-* (the SDK default for
   *  streams). RGW 16 answers 411 MissingContentLength. */
  chunkedTrailers: boolean;
  /** Refuses a Complete whose part list is not ascending (InvalidPartOrder). RGW 16 sorts the
   *  list itself and assembles the parts in number order. */
  checksPartOrder: boolean;
  /** Error code of ListParts for an aborted or unknown upload id (AWS: NoSuchUpload; RGW 16:
   *  NoSuchKey). Resume code must treat both as "the upload is gone". */
  listPartsGoneCode: 'NoSuchUpload' | 'NoSuchKey';
  /** Error code of CompleteMultipartUpload after Abort (AWS: NoSuchUpload; RGW 16: a 500
   *  InternalError, which a retrying client must not retry forever). */
  completeGoneCode: 'NoSuchUpload' | 'InternalError';
  /** CopyObjectResult and CopyPartResult carry the ETag without its quotes (RGW 16; AWS quotes
   *  it, as HeadObject and ListParts do everywhere). Compare copy ETags with bareEtag. */
  copyResultEtagUnquoted: boolean;
  /** Honours x-amz-copy-source-if-match / -if-none-match / -if-modified-since / -if-unmodified-since
   *  (412 when one fails). RGW 16 ignores them all and copies (it reads x-amz-copy-if-* instead):
   *  a client must not count on a conditional copy there. */
  copySourceConditions: boolean;
  /** Takes x-amz-copy-source (and -range) from the query of a presigned URL, as AWS applies the
   *  x-amz-* parameters a presigner hoisted there. RGW 16 ignores them: the request becomes a
   *  plain UploadPart / PutObject of the empty body, and answers 200. Presign copies with those
   *  headers unhoisted (signed as headers) and send them. */
  copySourceFromQuery: boolean;
  /** Error code for an x-amz-tagging header beyond S3's limits (11 tags, a 257-character value).
   *  AWS: InvalidTag, as for the XML of PutObjectTagging; RGW 16: InvalidArgument. */
  headerTagLimitCode: 'InvalidTag' | 'InvalidArgument';
  /** Refuses a tag key given twice (PutObjectTagging: InvalidTag; x-amz-tagging: InvalidArgument)
   *  and an x-amz-tagging that is not valid percent-encoding. RGW 16 accepts all three. */
  strictTagSets: boolean;
  /** Honours CopyObject's x-amz-tagging-directive (REPLACE takes x-amz-tagging; an unknown value
   *  is InvalidArgument). RGW 16 ignores it: a copy always keeps the source's tags. */
  copyTaggingDirective: boolean;
  /** Gives the completed object the x-amz-tagging of CreateMultipartUpload. RGW 16 drops it:
   *  tag a multipart object with PutObjectTagging after completion. */
  multipartTagging: boolean;
  /** Refuses a SigV4 signature made for another region (400 AuthorizationHeaderMalformed /
   *  AuthorizationQueryParametersError naming the right one in <Region>, as AWS). RGW 16 accepts
   *  any region in the credential scope. */
  enforcesRegion: boolean;
  /** Accepts AWS Signature Version 2 (what boto3's generate_presigned_url and s3cmd signurl make
   *  by default). RGW 16 does; AWS only in regions from before 2014; the embedded store refuses it
   *  (400 InvalidRequest saying how to presign with SigV4). */
  acceptsSigV2: boolean;
}

export function localQuirks(target: S3Target): LocalQuirks {
  if (target.name === 'rgw') {
    return {
      validatesFlexibleChecksums: false,
      chunkedTrailers: false,
      checksPartOrder: false,
      listPartsGoneCode: 'NoSuchKey',
      completeGoneCode: 'InternalError',
      copyResultEtagUnquoted: true,
      copySourceConditions: false,
      copySourceFromQuery: false,
      headerTagLimitCode: 'InvalidArgument',
      strictTagSets: false,
      copyTaggingDirective: false,
      multipartTagging: false,
      enforcesRegion: false,
      acceptsSigV2: true,
    };
  }
  return {
    validatesFlexibleChecksums: true,
    chunkedTrailers: true,
    checksPartOrder: true,
    listPartsGoneCode: 'NoSuchUpload',
    completeGoneCode: 'NoSuchUpload',
    copyResultEtagUnquoted: false,
    copySourceConditions: true,
    copySourceFromQuery: true,
    headerTagLimitCode: 'InvalidTag',
    strictTagSets: true,
    copyTaggingDirective: true,
    multipartTagging: true,
    enforcesRegion: true,
    acceptsSigV2: false,
  };
}

export function makeCheckContext(target: S3Target): CheckContext {
  return { target, s3: clientFor(target), local: localQuirks(target) };
}

/** A client of the project's factory for `target`, optionally with another secret. */
export function clientFor(target: S3Target, secretAccessKey = target.secretAccessKey): S3Client {
  return makeS3Client(
    { endpoint: target.endpoint, region: target.region, accessKeyId: target.accessKeyId, secretAccessKey, forcePathStyle: true },
    { maxAttempts: 1 },
  );
}

/**
 * The v3 SDK's default checksum behaviour (`WHEN_SUPPORTED`: CRC32 on every upload, aws-chunked
 * trailers for streams). makeS3Client deliberately never builds this; the checksum checks need it
 * to see what third-party tools built on the SDK send.
 */
export function sdkDefaultClient(target: S3Target): S3Client {
  return new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: true,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    requestChecksumCalculation: 'WHEN_SUPPORTED',
    responseChecksumValidation: 'WHEN_SUPPORTED',
    maxAttempts: 1,
  });
}

/**
 * Records the headers of every request `client` sends, as they go on the wire (after the SDK's
 * flexible-checksums middleware): how a check learns the checksum the SDK itself computed.
 */
export function recordSentHeaders(client: S3Client): { last(): Record<string, string> } {
  let last: Record<string, string> = {};
  client.middlewareStack.add(
    (next) => async (args) => {
      last = { ...((args.request as { headers?: Record<string, string> }).headers ?? {}) };
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordSentHeaders' },
  );
  return { last: () => last };
}

/**
 * The If-Match value to send for `etag`. Ceph RGW 16 compares If-Match against the ETag
 * without its quotes (docs/facts.md §4); everyone else wants the quoted form of RFC 9110.
 * Client code that does optimistic locking must apply the same rule.
 */
export function ifMatchValue(etag: string, quirks: Pick<S3Target['quirks'], 'ifMatchUnquoted'>): string {
  const bare = etag.replace(/^W\//, '').replace(/^"|"$/g, '');
  return quirks.ifMatchUnquoted ? bare : `"${bare}"`;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Creates a fresh bucket for one check and returns its name. */
export async function newBucket(ctx: CheckContext, prefix = 'c'): Promise<string> {
  const bucket = uniqueName(`cf-${prefix}`);
  await ctx.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

export function md5hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

export function quoted(hex: string): string {
  return `"${hex}"`;
}

/** S3's multipart ETag: md5 of the concatenated binary md5s of the parts, then "-<count>". */
export function multipartEtag(parts: Uint8Array[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(createHash('md5').update(p).digest());
  return `"${h.digest('hex')}-${parts.length}"`;
}

export async function getBytes(ctx: CheckContext, Bucket: string, Key: string, Range?: string): Promise<{ body: Buffer; status?: number; contentRange?: string; contentType?: string; metadata?: Record<string, string>; etag?: string }> {
  const r = await ctx.s3.send(new GetObjectCommand({ Bucket, Key, Range }));
  const body = Buffer.from(await r.Body!.transformToByteArray());
  return { body, status: r.$metadata.httpStatusCode, contentRange: r.ContentRange, contentType: r.ContentType, metadata: r.Metadata, etag: r.ETag };
}

export interface ExpectedError {
  /** Accepted S3 error codes (the SDK's error name); any of them passes. */
  codes?: string[];
  /** Accepted HTTP statuses; any of them passes. */
  statuses?: number[];
}

/** Awaits `p`, asserting that it fails with one of the expected codes/statuses. */
export async function expectS3Error(p: Promise<unknown>, want: ExpectedError, what = 'request'): Promise<S3ServiceException> {
  let err: S3ServiceException;
  try {
    await p;
  } catch (e) {
    err = e as S3ServiceException;
    const status = err.$metadata?.httpStatusCode;
    const detail = `${what} failed with ${err.name} (HTTP ${status}): ${err.message}`;
    if (want.codes) assert.ok(want.codes.includes(err.name), `${detail}; expected code ${want.codes.join(' or ')}`);
    if (want.statuses) assert.ok(status !== undefined && want.statuses.includes(status), `${detail}; expected HTTP ${want.statuses.join(' or ')}`);
    return err;
  }
  assert.fail(`${what} succeeded; expected ${[...(want.codes ?? []), ...(want.statuses ?? []).map(String)].join(' / ')}`);
}

export function statusOf(r: { $metadata: { httpStatusCode?: number } }): number | undefined {
  return r.$metadata.httpStatusCode;
}

/** Every check gets a timeout so a hung server fails one check instead of the whole run. */
export const CHECK = { timeout: 30_000 };
