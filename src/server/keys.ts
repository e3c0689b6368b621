import { randomBytes } from 'node:crypto';
import { roomPrefix } from '../core/roomKeys.js';

/**
 * Where things live in the bucket:
 *   rooms/<room_id>/datasets/<prefix_id>/<file_name or relative path>
 *   rooms/<room_id>/models/<prefix_id>/<file_name or relative path>
 * Every key a caller names must lie under its own room: core's keyInRoom checks it (the worker
 * applies the same check to the datasets it is sent).
 */
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
