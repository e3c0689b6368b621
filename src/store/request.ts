import type { IncomingMessage } from 'node:http';
import { S3Error } from './S3Error.js';

/**
 * The parts of an S3 request the store routes on, taken from the request target exactly as
 * sent: path-style addressing only (`/bucket/key`), the key percent-decoded once.
 */
export interface RequestTarget {
  rawPath: string;
  query: Record<string, string | string[]>;
  /** '' for the service (ListBuckets). */
  bucket: string;
  /** '' for bucket-level requests. */
  key: string;
}

const AUTH_QUERY = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature', 'x-amz-security-token', 'x-amz-content-sha256']);

function decode(s: string, what: string, plusIsSpace: boolean): string {
  try {
    return decodeURIComponent(plusIsSpace ? s.replace(/\+/g, ' ') : s);
  } catch {
    throw new S3Error('InvalidURI', `Couldn't parse the specified URI: the ${what} is not valid percent-encoding`);
  }
}

export function parseQuery(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const k = decode(eq === -1 ? piece : piece.slice(0, eq), 'query', true);
    const v = eq === -1 ? '' : decode(piece.slice(eq + 1), 'query', true);
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function parseTarget(url: string): RequestTarget {
  let target = url;
  const abs = /^https?:\/\/[^/]*/i.exec(target);
  if (abs) target = target.slice(abs[0].length) || '/';
  if (!target.startsWith('/')) throw new S3Error('InvalidURI', "Couldn't parse the specified URI: it must start with /");
  const qi = target.indexOf('?');
  const rawPath = qi === -1 ? target : target.slice(0, qi);
  const query = parseQuery(qi === -1 ? '' : target.slice(qi + 1));
  const rest = rawPath.slice(1);
  const slash = rest.indexOf('/');
  const bucket = decode(slash === -1 ? rest : rest.slice(0, slash), 'bucket name', false);
  const key = slash === -1 ? '' : decode(rest.slice(slash + 1), 'object key', false);
  return { rawPath, query, bucket, key };
}

/** The first value of a query parameter. */
export function queryParam(t: RequestTarget, name: string): string | undefined {
  const v = t.query[name];
  return Array.isArray(v) ? v[0] : v;
}

export function hasQuery(t: RequestTarget, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(t.query, name);
}

/**
 * Request headers as the operation sees them: lowercase names, and for presigned requests the
 * x-amz-* values the presigner hoisted into the query (x-amz-meta-*, x-amz-checksum-*, ...),
 * as S3 applies them.
 */
export function effectiveHeaders(req: IncomingMessage, t: RequestTarget, presigned: boolean): Map<string, string> {
  const h = new Map<string, string>();
  for (const [k, v] of Object.entries(req.headersDistinct)) if (v) h.set(k, v.join(','));
  if (presigned) {
    for (const [k, v] of Object.entries(t.query)) {
      const lk = k.toLowerCase();
      if (lk.startsWith('x-amz-') && !AUTH_QUERY.has(lk) && !h.has(lk)) h.set(lk, Array.isArray(v) ? v.join(',') : v);
    }
  }
  return h;
}

/** S3's bucket naming rules (the strict, DNS-compatible ones). */
export function validateBucketName(name: string): void {
  const why =
    name.length < 3 || name.length > 63
      ? 'must be 3 to 63 characters long'
      : !/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)
        ? 'may hold only lowercase letters, digits, "." and "-", and must begin and end with a letter or digit'
        : /\.\.|\.-|-\./.test(name)
          ? 'must not hold "..", ".-" or "-."'
          : /^\d+\.\d+\.\d+\.\d+$/.test(name)
            ? 'must not look like an IP address'
            : undefined;
  if (why) throw new S3Error('InvalidBucketName', `The specified bucket is not valid: "${name.slice(0, 80)}" ${why}.`, { extra: { BucketName: name.slice(0, 255) } });
}

export const MAX_KEY_BYTES = 1024;

/**
 * Keys are opaque to S3, but this store also refuses what would be dangerous for the file
 * system based tools that mirror buckets: a NUL byte or a ".." segment.
 */
export function validateKey(key: string): void {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', `Your key is too long: ${Buffer.byteLength(key)} bytes in UTF-8, the maximum is ${MAX_KEY_BYTES}.`);
  if (key.includes('\u0000')) throw new S3Error('InvalidArgument', 'Object key must not contain a NUL byte (%00).', { extra: { ArgumentName: 'key' } });
  if (key.split('/').includes('..')) throw new S3Error('InvalidArgument', 'Object key must not contain .. as a path segment.', { extra: { ArgumentName: 'key' } });
}

/** Parses an integer query parameter in [min, max]; undefined when absent. */
export function intParam(t: RequestTarget, name: string, min: number, max: number): number | undefined {
  const raw = queryParam(t, name);
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new S3Error('InvalidArgument', `${name} must be an integer between ${min} and ${max}, not "${raw.slice(0, 40)}"`, { extra: { ArgumentName: name, ArgumentValue: raw.slice(0, 100) } });
  }
  return Number(raw);
}
