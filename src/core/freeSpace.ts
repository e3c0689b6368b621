import { statfs } from 'node:fs/promises';

/**
 * Bytes free for this user on the disk that holds `dir`. fs.statfs is libuv's and works on
 * macOS and Windows too; only bavail and bsize are read, never the Linux-only `type`.
 */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}
