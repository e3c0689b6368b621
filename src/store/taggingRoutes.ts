import { planBody, receiveSmall } from './body.js';
import { send, sendXml, type Ctx } from './context.js';
import { S3Error } from './S3Error.js';
import { validateTags, type TagSet } from './tagging.js';
import { parseTagging, xmlDocument } from './xml.js';

/**
 * Object tagging: GetObjectTagging, PutObjectTagging and DeleteObjectTagging (`?tagging` on a
 * key). The tags live in the object's meta file (DiskBackend.setTags); PutObject,
 * CreateMultipartUpload and CopyObject set them from x-amz-tagging. `aws s3 cp` asks for them
 * before every S3-to-S3 multipart copy to carry them over. Bucket tagging stays NotImplemented.
 */

/** A tagging document is ten tags of at most 128 + 256 characters: 64 KiB is plenty. */
const TAGGING_XML_LIMIT = 64 * 1024;

function noSuchKey(ctx: Ctx): S3Error {
  return new S3Error('NoSuchKey', 'The specified key does not exist.', { extra: { Key: ctx.t.key } });
}

export function tagSetXml(tags: TagSet | undefined): Record<string, unknown> {
  return { TagSet: tags?.length ? { Tag: tags.map(([Key, Value]) => ({ Key, Value })) } : '' };
}

export async function getObjectTagging(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  disk.requireBucket(ctx.t.bucket);
  const meta = disk.head(ctx.t.bucket, ctx.t.key);
  if (!meta) throw noSuchKey(ctx);
  sendXml(ctx, 200, xmlDocument('Tagging', tagSetXml(meta.tags)));
}

export async function putObjectTagging(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  disk.requireBucket(ctx.t.bucket);
  // Fail fast before the body; setTags looks again under the key lock.
  if (!disk.head(ctx.t.bucket, ctx.t.key)) throw noSuchKey(ctx);
  const plan = planBody(ctx.h, ctx.auth.payload, TAGGING_XML_LIMIT);
  ctx.startBody();
  const { body } = await receiveSmall(ctx.req, plan, TAGGING_XML_LIMIT, ctx.signal);
  const tags = validateTags(parseTagging(body.toString('utf8')));
  await disk.setTags(ctx.t.bucket, ctx.t.key, tags);
  send(ctx, 200);
}

export async function deleteObjectTagging(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  disk.requireBucket(ctx.t.bucket);
  await disk.setTags(ctx.t.bucket, ctx.t.key, []);
  send(ctx, 204);
}
