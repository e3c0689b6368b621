/**
 * The shared S3 conformance checks, run against every S3 target (the embedded store and Ceph
 * RGW) in the manner of tus-node-server's shared store tests: `s3Checks(getCtx)` registers the
 * tests once per target; `getCtx()` is called inside each test, after the target's `before()`.
 * Every check makes its own bucket and keys, so checks are independent and can be read alone.
 */
import { awsChunkedChecks } from './s3/awsChunked.js';
import { bucketChecks } from './s3/buckets.js';
import { checksumChecks } from './s3/checksums.js';
import { conditionalChecks } from './s3/conditional.js';
import { copyChecks } from './s3/copy.js';
import type { GetCtx } from './s3/helpers.js';
import { listingChecks } from './s3/listing.js';
import { multipartChecks } from './s3/multipart.js';
import { multipartChecksumChecks } from './s3/multipartChecksums.js';
import { objectChecks } from './s3/objects.js';
import { presignedChecks } from './s3/presigned.js';
import { signatureChecks } from './s3/signatures.js';
import { taggingChecks } from './s3/tagging.js';

export { ifMatchValue, localQuirks, makeCheckContext, type CheckContext, type GetCtx, type LocalQuirks } from './s3/helpers.js';

export function s3Checks(getCtx: GetCtx): void {
  bucketChecks(getCtx);
  objectChecks(getCtx);
  listingChecks(getCtx);
  multipartChecks(getCtx);
  conditionalChecks(getCtx);
  copyChecks(getCtx);
  presignedChecks(getCtx);
  checksumChecks(getCtx);
  multipartChecksumChecks(getCtx);
  awsChunkedChecks(getCtx);
  taggingChecks(getCtx);
  signatureChecks(getCtx);
}
