import { createHash, type Hash } from 'node:crypto';
import { fdatasync, fsyncSync, ftruncateSync, writeSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { writevAllSync } from '../core/writevAll.js';
import { GcPacer } from './GcPacer.js';

/**
 * A HashWriterPool thread: the entry module of its worker threads (`*Thread.ts` is a thread's
 * entry). It hashes request bodies and writes them to their temp files.
 *
 * Protocol (each message carries the job `id`; a thread serves many jobs, in message order):
 *   in:  {op:'open', id, fd, algs, direct}  start hashing (node:crypto names) and writing to
 *                                    `fd` (opened with O_DIRECT when `direct`)
 *        {op:'write', id, bufs}      hash then write these bytes (their ArrayBuffers transferred)
 *        {op:'finish', id}           fsync, then answer the digests
 *        {op:'abort', id}            forget the job; answered once no write or flush of it is running
 *   out: {op:'ack', id, bytes} | {op:'done', id, digests} | {op:'aborted', id}
 *        {op:'error', id, message, code}  (once per job; later messages of the job are ignored)
 * The thread never opens or closes `fd`: its owner closes it after 'done', 'aborted' or 'error'.
 *
 * The pool imports this module (dynamically) on its own thread only for `hashWriterThreadUrl`:
 * the URL of the file this code is in, whether that is this .ts (tsx: tests) or a chunk of
 * dist/cli.js or dist/bundled/ (esbuild gives a dynamically imported module a chunk of its
 * own). The thread's work starts only in a worker started with HASH_WRITER_THREAD as workerData.
 */

export type HashWriterRequest =
  | { op: 'open'; id: number; fd: number; algs: string[]; direct: boolean }
  | { op: 'write'; id: number; bufs: Uint8Array[] | undefined }
  | { op: 'finish'; id: number }
  | { op: 'abort'; id: number };

export type HashWriterReply =
  | { op: 'ack'; id: number; bytes: number }
  | { op: 'done'; id: number; digests: Record<string, Uint8Array> }
  | { op: 'aborted'; id: number }
  | { op: 'error'; id: number; message: string; code?: string };

/** The workerData that makes a worker thread of this module serve the pool. */
export const HASH_WRITER_THREAD = 'sleap-rtc-store-hash-writer';

export const hashWriterThreadUrl: string = import.meta.url;

interface Job {
  fd: number;
  hashes: [string, Hash][];
  sinceFlush: number;
  flushing: boolean;
  /** A flush was running when 'finish' came: finish once it ends. */
  finishing?: boolean;
  /** 'abort' came while a flush was running: answer once it ends. */
  aborted?: boolean;
  error?: unknown;
  direct: boolean;
  /** O_DIRECT jobs: the last partial block, written with the next bytes. */
  carry?: Uint8Array;
  carryLen: number;
  /** O_DIRECT jobs: where the next aligned block goes. */
  pos: number;
}

// Early write-back (files opened without O_DIRECT, where the filesystem refused it): every
// FLUSH_EVERY bytes of a job, an fdatasync of its file starts on the libuv pool (this thread goes
// on hashing). Without it the kernel holds the whole part dirty until the final fsync, and a
// 64 MiB part then waits for all of it at the end; with it the disk writes while the body is
// still arriving, and the final fsync only has the last few MiB left. (Node has no
// sync_file_range, which would start write-back without waiting for it.)
const FLUSH_EVERY = 8 * 1024 * 1024;

// O_DIRECT jobs (open with direct: true): bytes go past the page cache, written from a staging
// buffer at addresses, offsets and lengths that are multiples of BLOCK, as O_DIRECT requires.
// JavaScript cannot align a Buffer, but a WebAssembly.Memory is page-aligned: the stage is a view
// of one. A thread has one stage (its jobs take turns); each job keeps only its last partial
// block for the next write. A body's last block is written padded, then the file cut to size.
const BLOCK = 4096;
const STAGE = 1024 * 1024;

function serve(port: MessagePort): void {
  const jobs = new Map<number, Job>();
  // Transferred ArrayBuffers are freed only when this isolate collects their wrappers: a young GC
  // every few MiB keeps them from piling up (GcPacer.ts, the same reasoning on the main thread).
  const gc = new GcPacer(4 * 1024 * 1024);
  let stage: Uint8Array | undefined;
  const post = (m: HashWriterReply): void => port.postMessage(m);

  function ensureStage(): Uint8Array {
    stage ??= new Uint8Array(new WebAssembly.Memory({ initial: STAGE / 65536 }).buffer);
    return stage;
  }
  function writeStage(job: Job, len: number): void {
    const s = ensureStage();
    for (let at = 0; at < len; ) {
      at += writeSync(job.fd, s, at, len - at, job.pos + at);
      // A short O_DIRECT write that ends off a block boundary cannot go on aligned: say so.
      if (at < len && at % BLOCK !== 0) throw Object.assign(new Error(`a direct write stopped off a block boundary (${at} of ${len} bytes)`), { code: 'EIO' });
    }
    job.pos += len;
  }
  function writeDirect(job: Job, bufs: Uint8Array[]): void {
    const s = ensureStage();
    let fill = job.carryLen;
    if (fill > 0) s.set(job.carry!.subarray(0, fill), 0);
    for (const b of bufs) {
      for (let off = 0; off < b.length; ) {
        const n = Math.min(b.length - off, STAGE - fill);
        s.set(b.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === STAGE) {
          writeStage(job, STAGE);
          fill = 0;
        }
      }
    }
    const whole = fill - (fill % BLOCK);
    if (whole > 0) writeStage(job, whole);
    job.carryLen = fill - whole;
    if (job.carryLen > 0) job.carry!.set(s.subarray(whole, fill), 0);
  }
  function finishDirect(job: Job): void {
    if (job.carryLen === 0) return;
    const size = job.pos + job.carryLen;
    const s = ensureStage();
    s.set(job.carry!.subarray(0, job.carryLen), 0);
    s.fill(0, job.carryLen, BLOCK);
    writeStage(job, BLOCK);
    ftruncateSync(job.fd, size);
  }

  function flushDone(id: number, job: Job, e: unknown): void {
    job.flushing = false;
    if (e && !job.error) job.error = e;
    if (job.aborted) {
      post({ op: 'aborted', id });
      return;
    }
    if (job.error) return fail(id, job.error);
    if (job.finishing) finish(id, job);
  }

  function startFlush(id: number, job: Job): void {
    job.flushing = true;
    job.sinceFlush = 0;
    fdatasync(job.fd, (e) => flushDone(id, job, e));
  }

  function finish(id: number, job: Job): void {
    try {
      if (job.direct) finishDirect(job);
      fsyncSync(job.fd);
      jobs.delete(id);
      const digests: Record<string, Uint8Array> = {};
      for (const [a, h] of job.hashes) digests[a] = h.digest();
      post({ op: 'done', id, digests });
    } catch (e) {
      fail(id, e);
    }
  }

  function fail(id: number, e: unknown): void {
    jobs.delete(id);
    const err = e as { message?: unknown; code?: unknown } | undefined;
    post({ op: 'error', id, message: String(err?.message || e), code: typeof err?.code === 'string' ? err.code : undefined });
  }

  port.on('message', (m: HashWriterRequest) => {
    if (m.op === 'open') {
      try {
        const direct = !!m.direct;
        jobs.set(m.id, { fd: m.fd, hashes: m.algs.map((a) => [a, createHash(a)]), sinceFlush: 0, flushing: false, direct, carryLen: 0, pos: 0, ...(direct ? { carry: new Uint8Array(BLOCK) } : {}) });
      } catch (e) {
        fail(m.id, e);
      }
      return;
    }
    if (m.op === 'abort') {
      const job = jobs.get(m.id);
      jobs.delete(m.id);
      // A flush still running uses the descriptor: its owner may close it only after that.
      if (job && job.flushing) job.aborted = true;
      else post({ op: 'aborted', id: m.id });
      return;
    }
    const job = jobs.get(m.id);
    if (!job || job.error) return; // failed earlier: its error was sent, or will be after the flush
    try {
      if (m.op === 'write') {
        const bufs = m.bufs ?? [];
        let bytes = 0;
        for (const b of bufs) {
          for (const [, h] of job.hashes) h.update(b);
          bytes += b.length;
        }
        if (job.direct) writeDirect(job, bufs);
        else writevAllSync(job.fd, bufs);
        post({ op: 'ack', id: m.id, bytes });
        job.sinceFlush += bytes;
        // O_DIRECT writes are on the disk already: only page-cache writes need pushing out early.
        if (!job.direct && job.sinceFlush >= FLUSH_EVERY && !job.flushing) startFlush(m.id, job);
        // The message no longer holds the buffers, so that a collection can free them.
        m.bufs = undefined;
        gc.add(bytes);
      } else if (m.op === 'finish') {
        if (job.flushing) job.finishing = true;
        else finish(m.id, job);
      }
    } catch (e) {
      // The owner closes the descriptor on an error: with a flush running, answer once it ended.
      if (job.flushing) job.error = e;
      else fail(m.id, e);
    }
  });
}

if (parentPort && workerData === HASH_WRITER_THREAD) serve(parentPort);
