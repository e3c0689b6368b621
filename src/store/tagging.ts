import { S3Error } from './S3Error.js';

/**
 * Object tags: S3's limits and the two ways a request carries a tag set (the x-amz-tagging
 * header of PutObject, CreateMultipartUpload and CopyObject; the XML body of PutObjectTagging).
 * A tag set is kept in the object's meta file (DiskBackend), so it is committed with the object
 * and replaced by an atomic rewrite of that file.
 */

/** [key, value] pairs in the order the client gave them; keys are unique. */
export type TagSet = Array<[string, string]>;

export const MAX_TAGS = 10;
export const MAX_KEY_CHARS = 128;
export const MAX_VALUE_CHARS = 256;

/** S3 counts Unicode characters, not UTF-16 units or bytes. */
function chars(s: string): number {
  return [...s].length;
}

/** Refuses what AWS refuses, with AWS's code (InvalidTag) and its words first. */
export function validateTags(tags: TagSet): TagSet {
  if (tags.length > MAX_TAGS) throw new S3Error('InvalidTag', `Object tags cannot be greater than ${MAX_TAGS}: this request has ${tags.length}.`);
  const seen = new Set<string>();
  for (const [key, value] of tags) {
    if (key === '') throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid: a tag key must not be empty.');
    if (chars(key) > MAX_KEY_CHARS) throw new S3Error('InvalidTag', `The TagKey you have provided is too long, max ${MAX_KEY_CHARS} (it has ${chars(key)} characters).`, { extra: { TagKey: key.slice(0, 200) } });
    if (chars(value) > MAX_VALUE_CHARS) throw new S3Error('InvalidTag', `The TagValue you have provided is too long, max ${MAX_VALUE_CHARS} (the value of "${key}" has ${chars(value)} characters).`, { extra: { TagKey: key } });
    if (seen.has(key)) throw new S3Error('InvalidTag', `Cannot provide multiple Tags with the same key: "${key}" is given twice.`, { extra: { TagKey: key } });
    seen.add(key);
  }
  return tags;
}

function badHeader(why: string): S3Error {
  return new S3Error('InvalidArgument', `The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates: ${why}.`, {
    extra: { ArgumentName: 'x-amz-tagging' },
  });
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw badHeader(`"${s.slice(0, 40)}" is not valid percent-encoding`);
  }
}

/**
 * The tag set of an x-amz-tagging header (`k1=v1&k2=v2`, each part URL-encoded; a key without
 * "=" has an empty value); undefined when the request has no such header.
 */
export function taggingHeader(h: Map<string, string>): TagSet | undefined {
  const raw = h.get('x-amz-tagging');
  if (raw === undefined) return undefined;
  const tags: TagSet = [];
  const seen = new Set<string>();
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const key = decodeComponent(eq === -1 ? piece : piece.slice(0, eq));
    const value = eq === -1 ? '' : decodeComponent(piece.slice(eq + 1));
    if (seen.has(key)) throw badHeader(`the tag key "${key.slice(0, 40)}" is given twice`);
    seen.add(key);
    tags.push([key, value]);
  }
  return validateTags(tags);
}

/** x-amz-tagging-directive of CopyObject: COPY (the source's tags, the default) or REPLACE (this request's). */
export function taggingDirective(h: Map<string, string>): 'COPY' | 'REPLACE' {
  const raw = h.get('x-amz-tagging-directive');
  const v = (raw ?? 'COPY').trim().toUpperCase();
  if (v !== 'COPY' && v !== 'REPLACE') {
    throw new S3Error('InvalidArgument', `Unknown tagging directive "${raw!.slice(0, 40)}": x-amz-tagging-directive is COPY (keep the source's tags) or REPLACE (take x-amz-tagging of this request).`, {
      extra: { ArgumentName: 'x-amz-tagging-directive', ArgumentValue: raw!.slice(0, 100) },
    });
  }
  return v;
}
