import type { ObjectMeta } from './DiskBackend.js';
import { bareEtag } from '../core/etag.js';
import { S3Error } from './S3Error.js';

/**
 * Conditional requests. Writes (PutObject, CopyObject, CompleteMultipartUpload):
 * `If-None-Match: *` fails when the key exists, `If-Match: <etag>` when it is missing or has
 * another ETag (quoted or not). The caller evaluates the returned check under the key's commit
 * lock, which is what makes racing conditional writers see exactly one winner.
 */
export type WriteCheck = (current: ObjectMeta | undefined) => void;

function etagList(v: string): string[] {
  return v.split(',').map((s) => bareEtag(s)).filter((s) => s !== '');
}

function failed(header: string): S3Error {
  return new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { extra: { Condition: header } });
}

export function writeCheck(h: Map<string, string>): WriteCheck {
  const ifNoneMatch = h.get('if-none-match')?.trim();
  const ifMatch = h.get('if-match')?.trim();
  if (ifNoneMatch !== undefined && ifNoneMatch !== '*') {
    throw new S3Error('NotImplemented', 'If-None-Match on a write supports only "*" (create the key only if it does not exist)', { extra: { Header: 'If-None-Match' } });
  }
  return (current) => {
    if (ifNoneMatch === '*' && current) throw failed('If-None-Match');
    if (ifMatch !== undefined) {
      if (!current) throw failed('If-Match');
      const want = etagList(ifMatch);
      if (!want.includes('*') && !want.includes(current.etag)) throw failed('If-Match');
    }
  };
}

/**
 * The four read conditions in RFC 9110's order, from headers named `<prefix>if-match` and so on:
 * 'failed' names the header that failed (If-Match / If-Unmodified-Since), 'not-modified' says
 * If-None-Match / If-Modified-Since held the object unchanged.
 */
function evaluate(h: Map<string, string>, prefix: string, meta: ObjectMeta): { failed?: string; notModified: boolean } {
  const ifMatch = h.get(`${prefix}if-match`);
  const ifNoneMatch = h.get(`${prefix}if-none-match`);
  const modified = Math.floor(new Date(meta.lastModified).getTime() / 1000) * 1000;
  const date = (name: string): number | undefined => {
    const v = h.get(`${prefix}${name}`);
    const t = v === undefined ? NaN : Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  };
  if (ifMatch !== undefined) {
    const want = etagList(ifMatch);
    if (!want.includes('*') && !want.includes(meta.etag)) return { failed: 'If-Match', notModified: false };
  } else {
    const since = date('if-unmodified-since');
    if (since !== undefined && modified > since) return { failed: 'If-Unmodified-Since', notModified: false };
  }
  if (ifNoneMatch !== undefined) {
    const want = etagList(ifNoneMatch);
    if (want.includes('*') || want.includes(meta.etag)) return { notModified: true };
  } else {
    const since = date('if-modified-since');
    if (since !== undefined && modified <= since) return { notModified: true };
  }
  return { notModified: false };
}

/** GET/HEAD conditions (RFC 9110 order): 412 PreconditionFailed or 304 Not Modified. */
export function readCheck(h: Map<string, string>, meta: ObjectMeta): 'ok' | 'not-modified' {
  const r = evaluate(h, '', meta);
  if (r.failed) throw failed(r.failed);
  return r.notModified ? 'not-modified' : 'ok';
}

/**
 * CopyObject / UploadPartCopy: the x-amz-copy-source-if-* conditions on the source, in the same
 * order as a GET's, except that a copy has no 304: every condition that does not hold is a 412.
 */
export function copySourceCheck(h: Map<string, string>, meta: ObjectMeta): void {
  const prefix = 'x-amz-copy-source-';
  const r = evaluate(h, prefix, meta);
  if (r.failed) throw failed(`${prefix}${r.failed}`);
  if (r.notModified) throw failed(h.has(`${prefix}if-none-match`) ? `${prefix}If-None-Match` : `${prefix}If-Modified-Since`);
}
