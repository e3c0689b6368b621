import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { AppError } from './errors.js';
import { processAlive } from './processAlive.js';

/**
 * Small JSON files that say which process serves what (`<data>/agent/agent.json`,
 * `<data>/stack.json`). Written to a temp file and renamed over, so a reader sees the old file
 * or the new one, never half of one; mode 0600 (the agent's file carries its token). Windows
 * ignores the mode: there the file is private through the data folder's ACL (core/dataPrivacy.ts).
 */
export function writePrivateJson(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // The temp file was not made, or already renamed.
    }
    throw new AppError('storage_error', `cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): check that the data folder is writable`, { cause: e });
  }
}

/**
 * Removes `file` only when its `pid` is `pid` (by default this process): a process that stops
 * must not remove the file of one that has replaced it meanwhile.
 */
export function removeIfOwned(file: string, pid = process.pid): boolean {
  try {
    const owner = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
    if (owner !== pid) return false;
    unlinkSync(file);
    return true;
  } catch {
    // Absent, unreadable or not JSON: not ours to remove.
    return false;
  }
}

/**
 * Reads a file written by writePrivateJson for a process that may have ended since. Undefined
 * when the file is absent, is not JSON (nothing we write is ever torn, so it is debris), or
 * names a process that has ended (stale: a crash or kill -9 leaves the file behind, and the next
 * process overwrites it). A file of a live process is checked harder, since it is trusted:
 * - not valid for `schema` -> AppError config_invalid (maybe another version's file: we cannot
 *   tell whether it is safe to replace, so the user is asked);
 * - with `private`, a file that is not the user's own or that others may read (its token would
 *   let them use the agent) -> AppError forbidden. Skipped on Windows, where uid and mode bits mean
 *   nothing: the profile folder's ACL keeps the file private there (core/dataPrivacy.ts).
 */
export function readLiveJson<T extends { pid: number }>(file: string, schema: z.ZodType<T>, o: { what: string; private: boolean; alive?: (pid: number) => boolean }): T | undefined {
  const alive = o.alive ?? processAlive;
  let text: string;
  let st: Stats;
  try {
    st = statSync(file);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AppError('storage_error', `cannot read ${o.what} ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): check the data folder's permissions`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const pid = (json as { pid?: unknown } | null)?.pid;
  if (typeof pid === 'number' && !alive(pid)) return undefined;
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new AppError('config_invalid', `${file} is not a valid ${o.what} (${issue?.path.join('.') || 'file'}: ${issue?.message}): stop the process that wrote it (pid ${String(pid ?? '?')}), or delete the file if none runs`);
  }
  if (!alive(r.data.pid)) return undefined;
  if (o.private && process.platform !== 'win32') {
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) throw new AppError('forbidden', `${file} belongs to another user (uid ${st.uid}), so it is not trusted: delete it, then start the agent again`);
    if ((st.mode & 0o077) !== 0) throw new AppError('forbidden', `${file} can be read by other users (mode ${(st.mode & 0o777).toString(8)}), and its token gives access to your agent: delete it and restart the agent, which writes it with mode 600`);
  }
  return r.data;
}
