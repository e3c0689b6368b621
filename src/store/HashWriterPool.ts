import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorkerThread } from '../core/workerThread.js';
import type { HashWriterReply, HashWriterRequest } from './hashWriterThread.js';

// Imported dynamically, and only here: a chunk of its own in the bundles, so the URL it gives is
// the file a worker thread can start from (hashWriterThread.ts says why).
const { HASH_WRITER_THREAD, hashWriterThreadUrl } = await import('./hashWriterThread.js');

/**
 * Worker threads that hash request bodies (MD5 for the ETag, SHA-1/SHA-256 when asked) and write
 * them to their temp file, so the store's one JavaScript thread only parses HTTP and hands bytes
 * over. MD5 runs at ~600 MiB/s per core: on the main thread it alone capped uploads near
 * 300 MiB/s; spread over threads, parts received in parallel are hashed in parallel.
 *
 * Bytes move by transferring their ArrayBuffers (no copy); each job keeps at most `window` bytes
 * handed over but not yet written, so memory stays bounded whatever the client sends.
 */

type Reply = HashWriterReply;

/** Bytes a job may have in flight (handed over, not yet written) before write() waits. */
const WINDOW = 1024 * 1024;

class Thread {
  readonly worker: Worker;
  readonly jobs = new Map<number, HashWriteJob>();
  dead = false;

  constructor(onDeath: (t: Thread) => void) {
    this.worker = startWorkerThread(hashWriterThreadUrl, {
      workerData: HASH_WRITER_THREAD,
      name: 'store-hash-writer',
      // Hashes and a few messages: a small heap keeps the thread's RSS small.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 2 },
    });
    this.worker.on('message', (m: Reply) => this.jobs.get(m.id)?.onReply(m));
    const die = (why: Error): void => {
      if (this.dead) return;
      this.dead = true;
      onDeath(this);
      for (const job of this.jobs.values()) job.onThreadDeath(why);
      this.jobs.clear();
    };
    this.worker.on('error', (e) => die(e));
    this.worker.on('exit', (code) => die(new Error(`the hash writer thread exited (code ${code})`)));
    this.worker.unref();
  }

  /** Sends a request of the protocol (hashWriterThread.ts), transferring `transfer`. */
  post(m: HashWriterRequest, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }

  /** A thread keeps the process alive only while it has jobs (as a pending fs call would). */
  add(id: number, job: HashWriteJob): void {
    if (this.jobs.size === 0) this.worker.ref();
    this.jobs.set(id, job);
  }

  remove(id: number): void {
    if (this.jobs.delete(id) && this.jobs.size === 0 && !this.dead) this.worker.unref();
  }
}

/** One body being hashed and written to `fd` by a pool thread. */
export class HashWriteJob {
  private inflight = 0;
  private failure: Error | undefined;
  private settled = false;
  private wake: (() => void) | undefined;
  private finished: { resolve: (d: Map<string, Buffer>) => void; reject: (e: Error) => void } | undefined;
  private aborted: (() => void) | undefined;
  private aborting: Promise<void> | undefined;

  constructor(
    private readonly thread: Thread,
    private readonly id: number,
  ) {}

  /**
   * Hands `bufs` to the thread, which hashes then writes them. Their ArrayBuffers are transferred:
   * each must be owned by the caller alone, and is unusable here afterwards. Resolves once the
   * job's unwritten bytes are back under the window.
   */
  async write(bufs: Uint8Array[]): Promise<void> {
    if (this.failure) throw this.failure;
    let n = 0;
    for (const b of bufs) n += b.length;
    this.inflight += n;
    this.thread.post({ op: 'write', id: this.id, bufs }, bufs.map((b) => b.buffer as ArrayBuffer));
    while (this.inflight > WINDOW && !this.failure) await new Promise<void>((r) => (this.wake = r));
    if (this.failure) throw this.failure;
  }

  /** fsync, then the digests by node:crypto name; the job is over. */
  finish(): Promise<Map<string, Buffer>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.finished = { resolve, reject };
      this.thread.post({ op: 'finish', id: this.id });
    });
  }

  /** Stops the job; resolves once the thread no longer touches the file (safe to close it). */
  abort(): Promise<void> {
    if (this.settled) return Promise.resolve();
    // Asked once: a second 'abort' would find the job gone from the thread and be answered at
    // once, while a flush of the first might still use the descriptor.
    this.aborting ??= new Promise((resolve) => {
      this.aborted = resolve;
      this.thread.post({ op: 'abort', id: this.id });
    });
    return this.aborting;
  }

  onReply(m: Reply): void {
    if (m.op === 'ack') {
      this.inflight -= m.bytes;
      if (this.inflight <= WINDOW) this.release();
      return;
    }
    if (m.op === 'done') {
      const digests = new Map(Object.entries(m.digests).map(([a, d]) => [a, Buffer.from(d.buffer, d.byteOffset, d.byteLength)]));
      // Resolved first: end() rejects a finish() still waiting, which this one no longer is.
      this.finished?.resolve(digests);
      this.end();
    } else if (m.op === 'error') {
      const e = Object.assign(new Error(m.message), m.code ? { code: m.code } : {});
      this.end(e);
    } else this.end();
  }

  onThreadDeath(why: Error): void {
    this.end(why);
  }

  private end(e?: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.thread.remove(this.id);
    // After an abort too, so that a write() still waiting for the window gives up, and a finish()
    // still waiting (for a flush the abort overtook) is answered.
    this.failure = e ?? new Error('the hash writer job was aborted');
    this.finished?.reject(this.failure);
    this.release();
    this.aborted?.();
  }

  private release(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

export class HashWriterPool {
  private readonly threads: Thread[] = [];
  private nextId = 1;

  constructor(private readonly size: number) {}

  /**
   * Starts hashing (`algs` are node:crypto names) and writing to `fd`, which the caller opened and
   * closes; `direct` when it was opened with O_DIRECT (the thread then writes aligned blocks).
   */
  open(fd: number, algs: string[], direct = false): HashWriteJob {
    let thread = this.threads.reduce<Thread | undefined>((best, t) => (!best || t.jobs.size < best.jobs.size ? t : best), undefined);
    if (!thread || (thread.jobs.size > 0 && this.threads.length < this.size)) {
      thread = new Thread((t) => {
        const i = this.threads.indexOf(t);
        if (i !== -1) this.threads.splice(i, 1);
      });
      this.threads.push(thread);
    }
    const id = this.nextId++;
    const job = new HashWriteJob(thread, id);
    thread.add(id, job);
    thread.post({ op: 'open', id, fd, algs, direct });
    return job;
  }

  /** Threads running now (they start on demand, up to the pool's size). */
  get liveThreads(): number {
    return this.threads.length;
  }

  /** Ends every thread (their jobs fail); the pool starts new ones if used again. */
  async close(): Promise<void> {
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }
}

/** One per process, like the libuv threadpool: at most 4 threads, fewer on smaller machines. */
export const hashWriterPool = new HashWriterPool(Math.min(4, Math.max(2, availableParallelism())));
