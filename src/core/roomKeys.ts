import { AppError } from './errors.js';

/**
 * The one check of keys a caller names inside a room: the server signs URLs only for such keys,
 * the worker downloads datasets only from them, and the manifest's file names follow the same
 * segment rule (they become keys under the model's prefix and paths under the download folder).
 * Every key a caller names must lie under `rooms/<room_id>/`.
 */
export function roomPrefix(room: string): string {
  return `rooms/${room}/`;
}

/**
 * Why a "/"-separated key or relative path is unsafe, or undefined when it is safe: an empty,
 * "." or ".." segment (prefix trickery, a path out of its folder once a key becomes a file),
 * a backslash (a separator on Windows) or a control character.
 */
export function relativeKeyProblem(key: string): string | undefined {
  if (key.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'empty, "." or ".." segments are not allowed';
  // eslint-disable-next-line no-control-regex -- control characters are what this rejects
  if (/[\u0000-\u001f\\]/.test(key)) return 'backslashes and control characters are not allowed';
  return undefined;
}

/**
 * Turns a key or s3:// path from a caller into a key, checking it is safe (relativeKeyProblem)
 * and lies in the caller's room. `bad_request` for a malformed key, `forbidden` for one of
 * another bucket or room.
 */
export function keyInRoom(room: string, bucket: string, keyOrPath: string): string {
  let key = keyOrPath;
  if (key.startsWith('s3://')) {
    const rest = key.slice(5);
    const slash = rest.indexOf('/');
    const b = slash < 0 ? rest : rest.slice(0, slash);
    if (b !== bucket) throw new AppError('forbidden', `bucket "${b.slice(0, 100)}" is not this server's bucket "${bucket}"`);
    key = slash < 0 ? '' : rest.slice(slash + 1);
  }
  const problem = relativeKeyProblem(key);
  if (problem) throw new AppError('bad_request', `key "${key.slice(0, 200)}" is malformed: ${problem}`);
  if (!key.startsWith(roomPrefix(room))) {
    throw new AppError('forbidden', `key "${key.slice(0, 200)}" is outside your room: keys must start with ${roomPrefix(room)}`);
  }
  return key;
}
