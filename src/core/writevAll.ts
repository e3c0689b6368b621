import { writevSync } from 'node:fs';

/**
 * Writing a batch of buffers whole. writev may write less than asked (a file-size limit, a disk
 * filling up, a signal): the rest is written from where it stopped, until none is left. The one
 * loop of the store's file sink and hash-writer threads and of the Downloader, in an async form
 * (a FileHandle, on the libuv pool) and a sync one (a worker thread's own fd).
 */

/** The file side of writevAll: a FileHandle, or anything with its writev. */
export interface WritevTarget {
  writev(buffers: readonly Uint8Array[], position?: number | null): Promise<{ bytesWritten: number }>;
}

/** Writes every byte of `bufs`, back to back, at `position` (or at the file's position). */
export async function writevAll(file: WritevTarget, bufs: readonly Uint8Array[], position?: number): Promise<void> {
  let pending = bufs;
  let done = 0;
  while (pending.length > 0) {
    const { bytesWritten } = await file.writev(pending, position === undefined ? undefined : position + done);
    pending = unwritten(pending, bytesWritten);
    done += bytesWritten;
  }
}

/** writevAll for a descriptor, synchronously (a worker thread that writes as it hashes). */
export function writevAllSync(fd: number, bufs: readonly Uint8Array[], position?: number): void {
  let pending = bufs;
  let done = 0;
  while (pending.length > 0) {
    const n = writevSync(fd, pending as Uint8Array[], position === undefined ? undefined : position + done);
    pending = unwritten(pending, n);
    done += n;
  }
}

/**
 * What is left of `bufs` once their first `written` bytes are on disk (views, no copies). A write
 * that took nothing of a non-empty rest is an EIO error: looping on it would never end.
 */
export function unwritten<T extends Uint8Array>(bufs: readonly T[], written: number): T[] {
  let skip = written;
  const rest: T[] = [];
  for (const b of bufs) {
    if (skip >= b.length) skip -= b.length;
    else {
      rest.push((skip === 0 ? b : b.subarray(skip)) as T);
      skip = 0;
    }
  }
  if (written === 0 && rest.length > 0) {
    const left = rest.reduce((n, b) => n + b.length, 0);
    throw Object.assign(new Error(`a write took none of the ${left} bytes left to write`), { code: 'EIO' });
  }
  return rest;
}
