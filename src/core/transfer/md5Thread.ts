import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

/**
 * The Md5Worker's thread (the entry module of a worker thread, see core/workerThread.ts): MD5 of
 * a file range, read here (page cache, one 1 MiB buffer) so nothing is copied between threads.
 * Md5Worker imports this module dynamically for `md5ThreadUrl` only; the work starts in a
 * worker started with MD5_THREAD as workerData.
 */

export interface Md5Request {
  id: number;
  path: string;
  start: number;
  end: number;
}

export type Md5Reply = { id: number; md5: string; read: number } | { id: number; error: string };

/** The workerData that makes a worker thread of this module answer Md5Requests. */
export const MD5_THREAD = 'sleap-rtc-md5';

export const md5ThreadUrl: string = import.meta.url;

function serve(port: MessagePort): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  port.on('message', ({ id, path, start, end }: Md5Request) => {
    let fd: number | undefined;
    let reply: Md5Reply;
    try {
      fd = openSync(path, 'r');
      const h = createHash('md5');
      let pos = start;
      while (pos < end) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        pos += n;
      }
      reply = { id, md5: h.digest('hex'), read: pos - start };
    } catch (e) {
      reply = { id, error: String((e as Error | undefined)?.message || e) };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    port.postMessage(reply);
  });
}

if (parentPort && workerData === MD5_THREAD) serve(parentPort);
