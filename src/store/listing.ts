import type { ObjectMeta } from './DiskBackend.js';
import { compareKeys, lowerBound } from './fsutil.js';
import { S3Error } from './S3Error.js';

/**
 * ListObjects (V1 and V2) over a bucket's sorted keys: prefix, delimiter folding into common
 * prefixes, a page of at most max-keys entries (keys and prefixes together), and where the
 * next page starts.
 */
export interface ListInput {
  prefix: string;
  delimiter?: string;
  maxKeys: number;
  /** List only keys after this one (StartAfter, V1 marker, or a continuation token's key). */
  after?: string;
  /** Skip every key under this common prefix (a continuation that stopped on a prefix). */
  skipPrefix?: string;
}

export interface ListOutput {
  contents: ObjectMeta[];
  commonPrefixes: string[];
  truncated: boolean;
  /** The last entry of the page (a key or a common prefix): where the next page continues. */
  last?: { value: string; isPrefix: boolean };
}

export function listKeys(keys: readonly string[], get: (key: string) => ObjectMeta | undefined, input: ListInput): ListOutput {
  const { prefix, delimiter } = input;
  let i = lowerBound(keys, prefix);
  if (input.after !== undefined && compareKeys(input.after, prefix) >= 0) i = lowerBound(keys, input.after, true);
  const skip = (p: string): void => {
    while (i < keys.length && keys[i].startsWith(p)) i++;
  };
  if (input.skipPrefix) skip(input.skipPrefix);
  const out: ListOutput = { contents: [], commonPrefixes: [], truncated: false };
  let count = 0;
  while (i < keys.length) {
    const key = keys[i];
    if (!key.startsWith(prefix)) break;
    if (count >= input.maxKeys) {
      out.truncated = true;
      break;
    }
    const d = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (delimiter && d !== -1) {
      const cp = key.slice(0, d + delimiter.length);
      out.commonPrefixes.push(cp);
      out.last = { value: cp, isPrefix: true };
      count++;
      skip(cp);
      continue;
    }
    const meta = get(key);
    i++;
    if (!meta) continue;
    out.contents.push(meta);
    out.last = { value: key, isPrefix: false };
    count++;
  }
  return out;
}

/** Continuation tokens are opaque to clients: base64url of where the page stopped. */
export function encodeToken(last: { value: string; isPrefix: boolean }): string {
  return Buffer.from(JSON.stringify({ v: last.value, p: last.isPrefix })).toString('base64url');
}

export function decodeToken(token: string): { value: string; isPrefix: boolean } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: unknown; p?: unknown };
    if (typeof t.v === 'string') return { value: t.v, isPrefix: t.p === true };
  } catch {
    // fall through to the error below
  }
  throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { extra: { ArgumentName: 'continuation-token' } });
}
