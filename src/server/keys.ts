import { randomBytes } from 'node:crypto';
import { AppError } from '../core/errors.js';

/**
 * Where things live in the bucket:
 *   rooms/<room_id>/datasets/<prefix_id>/<file_name or relative path>
 *   rooms/<room_id>/models/<prefix_id>/<file_name or relative path>
 * Every key a caller names must lie under its own room.
 */
export function roomPrefix(room: string): string {
  return `rooms/${room}/`;
}

export function artifactKey(room: string, kind: 'dataset' | 'model', prefixId: string, relativePath: string): string {
  return `${roomPrefix(room)}${kind}s/${prefixId}/${relativePath}`;
}

/** A new prefix id: time-ordered (base-36 milliseconds) plus 48 random bits. */
export function newPrefixId(): string {
  return `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

export function s3Path(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * Turns a key or s3:// path from a caller into a key, checking it lies in the caller's room and
 * has no empty, "." or ".." segments (so no prefix trickery reaches another room).
 */
export function keyInRoom(room: string, bucket: string, keyOrPath: string): string {
  let key = keyOrPath;
  if (key.startsWith('s3://')) {
    const rest = key.slice(5);
    const slash = rest.indexOf('/');
    const b = slash < 0 ? rest : rest.slice(0, slash);
    if (b !== bucket) throw new AppError('forbidden', `bucket "${b}" is not this server's bucket "${bucket}"`);
    key = slash < 0 ? '' : rest.slice(slash + 1);
  }
  const segments = key.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..') || /[\u0000-\u001f\\]/.test(key)) {
    throw new AppError('bad_request', `key "${key.slice(0, 200)}" is malformed: empty, "." or ".." segments, backslashes and control characters are not allowed`);
  }
  if (!key.startsWith(roomPrefix(room))) {
    throw new AppError('forbidden', `key "${key.slice(0, 200)}" is outside your room: keys must start with ${roomPrefix(room)}`);
  }
  return key;
}
