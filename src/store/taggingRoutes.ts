import { sendXml, type Ctx } from './context.js';
import { S3Error } from './S3Error.js';
import { xmlDocument } from './xml.js';

/**
 * GetObjectTagging, read-only: this store keeps no object tags, so every object's tag set is
 * empty. `aws s3 cp` asks for it before every multipart S3-to-S3 copy (to carry the tags
 * over); answering 501 failed those copies. Setting tags stays NotImplemented (router.ts).
 */
export async function getObjectTagging(ctx: Ctx): Promise<void> {
  const { disk } = ctx.deps;
  disk.requireBucket(ctx.t.bucket);
  if (!disk.head(ctx.t.bucket, ctx.t.key)) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { extra: { Key: ctx.t.key } });
  sendXml(ctx, 200, xmlDocument('Tagging', { TagSet: '' }));
}
