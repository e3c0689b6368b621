import type { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { startWorkerThread } from '../workerThread.js';
import type { Md5Reply, Md5Request } from './md5Thread.js';
import { abortError } from './retry.js';

// Imported dynamically, and only here: a chunk of its own in the bundles (core/workerThread.ts).
const { MD5_THREAD, md5ThreadUrl } = await import('./md5Thread.js');

interface Pending {
  resolve: (md5: string) => void;
  reject: (e: unknown) => void;
}

/**
 * MD5 of file ranges on a worker thread, off the event loop that drives the sockets. Used where
 * the server did not confirm a part's checksum (Ceph RGW ignores x-amz-checksum-*): the part's
 * ETag, which such servers compute as the MD5 of the bytes they received, is compared with the
 * MD5 of the bytes on disk. MD5 costs ~2.5 CPU s/GiB; on the main thread it would slow every part.
 * The thread (md5Thread.ts) reads the range itself: nothing is copied between threads.
 */
export class Md5Worker {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** Hex MD5 of bytes [start, end) of `path`. */
  md5(path: string, start: number, end: number, signal?: AbortSignal): Promise<string> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const w = this.started();
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => {
        // The worker finishes this range anyway; its answer is dropped.
        this.pending.delete(id);
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (m) => (done(), resolve(m)),
        reject: (e) => (done(), reject(e)),
      });
      const request: Md5Request = { id, path, start, end };
      w.postMessage(request);
    });
  }

  /** Stops the thread; a later md5() starts a new one. */
  close(): void {
    const w = this.worker;
    this.worker = undefined;
    this.failAll(new AppError('aborted', 'the MD5 worker was closed'));
    void w?.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const w = startWorkerThread(md5ThreadUrl, { workerData: MD5_THREAD });
    w.unref(); // never keeps the process alive by itself
    w.on('message', (m: Md5Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(new AppError('storage_error', `cannot read the file to check a part: ${m.error}`));
      else p.resolve(m.md5);
    });
    const lost = (e: unknown): void => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.failAll(new AppError('internal', `the MD5 worker stopped (${e instanceof Error ? e.message : String(e)})`, { cause: e }));
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`exit ${code}`)));
    this.worker = w;
    return w;
  }

  private failAll(e: unknown): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }
}
