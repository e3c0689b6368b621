import * as buckets from './bucketRoutes.js';
import type { Ctx, Handler } from './context.js';
import * as copies from './copyRoutes.js';
import * as mpu from './multipartRoutes.js';
import * as objects from './objectRoutes.js';
import { hasQuery, validateBucketName, validateKey } from './request.js';
import { S3Error } from './S3Error.js';
import * as tagging from './taggingRoutes.js';

/**
 * Which operation a request is: path-style addressing, the method and the sub-resource in the
 * query. Sub-resources of operations this store does not implement answer 501 NotImplemented
 * instead of being mistaken for a plain GET or PUT.
 */
const UNSUPPORTED = [
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'logging', 'metrics', 'notification', 'object-lock', 'ownershipControls',
  'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention',
  'select', 'tagging', 'torrent', 'versioning', 'versions', 'website', 'versionId', 'session', 'renameObject',
];

function notImplemented(what: string): S3Error {
  return new S3Error('NotImplemented', `A header or query you provided implies functionality that is not implemented: ${what}`);
}

function methodNotAllowed(ctx: Ctx): S3Error {
  return new S3Error('MethodNotAllowed', `The specified method ${ctx.req.method} is not allowed against this resource.`, { extra: { Method: ctx.req.method ?? '', ResourceType: ctx.t.key ? 'OBJECT' : ctx.t.bucket ? 'BUCKET' : 'SERVICE' } });
}

export function route(ctx: Ctx): Handler {
  const { t } = ctx;
  const method = ctx.req.method ?? 'GET';
  const q = (name: string): boolean => hasQuery(t, name);
  // Reading the versioning state is harmless and tools ask for it (rclone): never enabled here.
  if (method === 'GET' && t.bucket !== '' && t.key === '' && q('versioning')) {
    validateBucketName(t.bucket);
    return buckets.getBucketVersioning;
  }
  // An object's tags; a bucket's stay NotImplemented (UNSUPPORTED).
  if (t.bucket !== '' && t.key !== '' && q('tagging')) {
    validateBucketName(t.bucket);
    validateKey(t.key);
    if (method === 'GET') return tagging.getObjectTagging;
    if (method === 'PUT') return tagging.putObjectTagging;
    if (method === 'DELETE') return tagging.deleteObjectTagging;
    throw methodNotAllowed(ctx);
  }
  const unsupported = UNSUPPORTED.find(q);
  if (unsupported) throw notImplemented(`the "${unsupported}" sub-resource`);

  if (t.bucket === '') {
    if (method === 'GET') return buckets.listBuckets;
    throw methodNotAllowed(ctx);
  }
  validateBucketName(t.bucket);

  if (t.key === '') {
    switch (method) {
      case 'PUT':
        return buckets.createBucket;
      case 'HEAD':
        return buckets.headBucket;
      case 'DELETE':
        return buckets.deleteBucket;
      case 'GET':
        if (q('uploads')) return mpu.listMultipartUploads;
        if (q('location')) return buckets.getBucketLocation;
        return buckets.isListV2(ctx) ? buckets.listObjectsV2 : buckets.listObjectsV1;
      case 'POST':
        if (q('delete')) return buckets.deleteObjects;
        throw notImplemented('POST on a bucket other than ?delete (browser-based POST uploads)');
      default:
        throw methodNotAllowed(ctx);
    }
  }
  validateKey(t.key);

  switch (method) {
    case 'PUT': {
      const copy = ctx.h.has('x-amz-copy-source');
      if (q('partNumber') || q('uploadId')) return copy ? copies.uploadPartCopy : mpu.uploadPart;
      return copy ? copies.copyObject : objects.putObject;
    }
    case 'GET':
      if (q('uploadId')) return mpu.listParts;
      return objects.getObject;
    case 'HEAD':
      return objects.getObject;
    case 'DELETE':
      if (q('uploadId')) return mpu.abortMultipartUpload;
      return objects.deleteObject;
    case 'POST':
      if (q('uploads')) return mpu.createMultipartUpload;
      if (q('uploadId')) return mpu.completeMultipartUpload;
      throw notImplemented('POST on an object other than ?uploads or ?uploadId');
    default:
      throw methodNotAllowed(ctx);
  }
}
