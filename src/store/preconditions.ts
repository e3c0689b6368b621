import type { ObjectMeta } from './DiskBackend.js';
import { bareEtag } from '../core/etag.js';
import { S3Error } from './S3Error.js';

/**
 * Conditional requests. Writes (PutObject, CompleteMultipartUpload): `If-None-Match: *` fails
 * when the key exists, `If-Match: <etag>` when it is missing or has another ETag (quoted or
 * not). The caller evaluates the returned check under the key's commit lock, which is what
 * makes racing conditional writers see exactly one winner.
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

/** GET/HEAD conditions (RFC 9110 order): 412 PreconditionFailed or 304 Not Modified. */
export function readCheck(h: Map<string, string>, meta: ObjectMeta): 'ok' | 'not-modified' {
  const ifMatch = h.get('if-match');
  const ifNoneMatch = h.get('if-none-match');
  const modified = Math.floor(new Date(meta.lastModified).getTime() / 1000) * 1000;
  const date = (name: string): number | undefined => {
    const v = h.get(name);
    const t = v === undefined ? NaN : Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  };
  if (ifMatch !== undefined) {
    const want = etagList(ifMatch);
    if (!want.includes('*') && !want.includes(meta.etag)) throw failed('If-Match');
  } else {
    const since = date('if-unmodified-since');
    if (since !== undefined && modified > since) throw failed('If-Unmodified-Since');
  }
  if (ifNoneMatch !== undefined) {
    const want = etagList(ifNoneMatch);
    if (want.includes('*') || want.includes(meta.etag)) return 'not-modified';
  } else {
    const since = date('if-modified-since');
    if (since !== undefined && modified <= since) return 'not-modified';
  }
  return 'ok';
}
