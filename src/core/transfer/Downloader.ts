import { open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { freeBytes } from '../freeSpace.js';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { partCount, partRange } from '../parts.js';
import { sha256File } from './checksum.js';
import { createAgents, socketsFor } from './httpClient.js';
import { PartQueue, type RunContext } from './PartQueue.js';
import { ProgressMeter, type TransferProgress } from './progress.js';
import { describeWaiting, type OutageWaiting } from './outage.js';
import type { ObjectInfo, RangeSource } from './RangeSource.js';
import { abortError, DEFAULT_RETRY, throwIfAborted, type FailureKind, type RetryPolicy } from './retry.js';
import { bareEtag } from '../etag.js';
import { writevAll } from '../writevAll.js';

export interface DownloadOptions {
  source: RangeSource;
  /** Final path; bytes land in `<dest>.partial`, finished ranges are listed in `<dest>.partial.json`. */
  dest: string;
  /** Bytes per ranged GET. Default 8 MiB. */
  chunkSize?: number;
  /** Ranges in flight at once, or 'auto' (the default): adapted to the measured throughput (AdaptiveConcurrency). */
  concurrency?: number | 'auto';
  /** The SHA-256 the file must have; defaults to the object's `sha256` metadata. */
  expectedSha256?: string;
  stallTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  onProgress?: (p: TransferProgress) => void;
  progressIntervalMs?: number;
  /** Fail after waiting this long for S3 when it does not answer (ms). Default 1 hour (outage.ts). */
  outageLimitMs?: number;
  /** The download is waiting for S3 (undefined: no longer). */
  onWaiting?: (w: OutageWaiting | undefined) => void;
  log?: Logger;
  random?: () => number;
}

export interface DownloadResult {
  path: string;
  size: number;
  etag: string;
  sha256: string;
  /** False when no SHA-256 was known to compare with (the computed one is still returned). */
  verified: boolean;
  /** Bytes taken over from an earlier, interrupted download. */
  resumedBytes: number;
  /** Bytes received by this run, re-fetches included. */
  bytesReceived: number;
  retries: Record<FailureKind, number>;
}

interface Sidecar {
  version: 1;
  size: number;
  etag: string;
  chunkSize: number;
  done: number[];
}

interface Chunk {
  id: number;
  size: number;
  start: number;
  end: number;
}

/** Bytes gathered per write while a range streams in. */
const WRITE_BATCH = 1024 * 1024;


/**
 * Parallel ranged GETs into `<dest>.partial`, each range written at its offset as it streams in
 * (memory: one socket buffer per range in flight). Resumable: after each range is on disk
 * (datasync) its index is added to the sidecar `<dest>.partial.json`; a new Downloader for the
 * same object (same size and ETag) fetches only the missing ranges. The file is renamed to `dest`
 * only after its SHA-256 matches; a mismatch deletes the partial file and throws checksum_mismatch.
 */
export class Downloader {
  private readonly partial: string;
  private readonly sidecarPath: string;
  private readonly log: Logger;
  private sidecarWrite: Promise<void> = Promise.resolve();

  constructor(private readonly o: DownloadOptions) {
    this.partial = `${o.dest}.partial`;
    this.sidecarPath = `${o.dest}.partial.json`;
    this.log = (o.log ?? silentLogger).child('download', { source: o.source.name });
  }

  async start(opts: { signal?: AbortSignal } = {}): Promise<DownloadResult> {
    const signal = opts.signal ?? new AbortController().signal;
    const info = await this.o.source.stat({ signal });
    throwIfAborted(signal);
    const expected = this.o.expectedSha256 ?? info.sha256;
    if (this.o.expectedSha256 && info.sha256 && this.o.expectedSha256 !== info.sha256) {
      throw new AppError('checksum_mismatch', `${this.o.source.name} has SHA-256 ${info.sha256} in its metadata, not the expected ${this.o.expectedSha256}`);
    }
    const chunkSize = this.o.chunkSize ?? 8 * 1024 * 1024;
    const side = await this.loadSidecar(info, chunkSize);
    const chunks: Chunk[] = [];
    const count = info.size === 0 ? 0 : partCount(info.size, chunkSize);
    for (let i = 1; i <= count; i++) {
      const r = partRange(i, info.size, chunkSize);
      chunks.push({ id: i, size: r.end - r.start, ...r });
    }
    const resumedBytes = chunks.filter((c) => side.done.includes(c.id)).reduce((n, c) => n + c.size, 0);
    await this.checkSpace(info.size - resumedBytes);
    throwIfAborted(signal);

    const fh = await this.openPartial(side.done.length > 0);
    const concurrency = this.o.concurrency ?? 'auto';
    const agents = createAgents(socketsFor(concurrency));
    const meter = new ProgressMeter({ totalBytes: info.size, intervalMs: this.o.progressIntervalMs, emit: (p) => this.o.onProgress?.(p), concurrency: () => queue.currentLimit });
    const queue: PartQueue<Chunk> = new PartQueue(chunks, {
      itemName: 'range',
      concurrency,
      retry: { ...DEFAULT_RETRY, ...this.o.retry },
      stallTimeoutMs: this.o.stallTimeoutMs ?? 30_000,
      random: this.o.random,
      run: (c, ctx) => this.fetchChunk(c, ctx, fh, agents, side),
      outageLimitMs: this.o.outageLimitMs,
      onWaiting: (w) => {
        if (w) this.log.warn(describeWaiting(w), { endpoint: w.endpoint, reason: w.reason });
        this.o.onWaiting?.(w);
      },
      onProgress: () => meter.update(queue.bytesDone, queue.bytesMoved),
      // A probe while an endpoint is down is said once, when the wait begins (onWaiting); each probe is debug.
      onRetry: (r) => this.log[r.kind === 'unreachable' ? 'debug' : 'warn']('range retried', { range: r.item.id, kind: r.kind, attempt: r.attempt, delay_ms: r.delayMs, error: r.error instanceof Error ? r.error.message : String(r.error) }),
    });
    for (const id of side.done) queue.markDone(id);
    if (resumedBytes > 0) this.log.info('download resumed', { resumed_bytes: resumedBytes, size: info.size });
    try {
      await queue.run(signal);
      await fh.datasync();
    } finally {
      agents.destroy();
      await fh.close().catch(() => undefined);
      await this.sidecarWrite.catch(() => undefined);
    }
    throwIfAborted(signal);

    const { sha256 } = await sha256File(this.partial, { signal });
    if (expected && sha256 !== expected) {
      await this.discard();
      throw new AppError('checksum_mismatch', `the download of ${this.o.source.name} has SHA-256 ${sha256}, expected ${expected}: the bytes were damaged on the way; nothing was kept, download it again`, {
        details: { expected, actual: sha256 },
      });
    }
    await rename(this.partial, this.o.dest);
    await rm(this.sidecarPath, { force: true });
    meter.update(info.size, queue.bytesMoved, true);
    return { path: this.o.dest, size: info.size, etag: info.etag, sha256, verified: expected !== undefined, resumedBytes, bytesReceived: queue.bytesMoved, retries: { ...queue.retries } };
  }

  private async fetchChunk(c: Chunk, ctx: RunContext, fh: FileHandle, agents: ReturnType<typeof createAgents>, side: Sidecar): Promise<void> {
    const body: Readable = await this.o.source.openRange(c.start, c.end, { signal: ctx.signal, agents, refresh: ctx.refreshUrl });
    let pos = c.start;
    try {
      // Socket chunks (~64 KiB) are gathered into one writev per MiB: far fewer syscalls.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        await this.writeAt(fh, pending, pos);
        pos += pendingBytes;
        pending = [];
        pendingBytes = 0;
      };
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (pos + pendingBytes + chunk.length > c.end) throw new AppError('upstream_error', `range ${c.id}: the server sent more bytes than asked for`, { details: { status: 206 } });
        pending.push(chunk);
        pendingBytes += chunk.length;
        ctx.onBytes(chunk.length);
        if (pendingBytes >= WRITE_BATCH) await flush();
      }
      if (pendingBytes > 0) await flush();
    } catch (e) {
      body.destroy();
      if (ctx.signal.aborted) throw abortError(ctx.signal);
      if (e instanceof AppError) throw e;
      throw new AppError('upstream_error', `range ${c.id}: the answer broke off (${(e as { code?: string }).code ?? (e as Error).message})`, { cause: e, details: { network: true } });
    }
    if (pos !== c.end) throw new AppError('upstream_error', `range ${c.id}: got ${pos - c.start} of ${c.size} bytes`, { details: { network: true } });
    // On disk before it is recorded as done: a crash never leaves the sidecar ahead of the data.
    await fh.datasync();
    side.done.push(c.id);
    await this.saveSidecar(side);
  }

  /** Writes `bufs` back to back at `pos`. */
  private async writeAt(fh: FileHandle, bufs: Buffer[], pos: number): Promise<void> {
    try {
      await writevAll(fh, bufs, pos);
    } catch (e) {
      throw diskError(e, this.partial);
    }
  }

  private async loadSidecar(info: ObjectInfo, chunkSize: number): Promise<Sidecar> {
    const fresh: Sidecar = { version: 1, size: info.size, etag: bareEtag(info.etag), chunkSize, done: [] };
    try {
      const s = JSON.parse(await readFile(this.sidecarPath, 'utf8')) as Partial<Sidecar>;
      const ok = s.version === 1 && s.size === info.size && s.etag === bareEtag(info.etag) && s.chunkSize === chunkSize && Array.isArray(s.done);
      if (ok) {
        const max = partCount(info.size, chunkSize);
        return { ...fresh, done: [...new Set(s.done!.filter((n) => Number.isInteger(n) && n >= 1 && n <= max))] };
      }
      this.log.info('earlier partial download is of another object version: starting over');
    } catch {
      // No sidecar (or unreadable): start over.
    }
    return fresh;
  }

  private saveSidecar(side: Sidecar): Promise<void> {
    const snapshot = JSON.stringify({ ...side, done: [...side.done].sort((a, b) => a - b) });
    const p = this.sidecarWrite.then(async () => {
      const tmp = `${this.sidecarPath}.tmp`;
      try {
        await writeFile(tmp, snapshot);
        await rename(tmp, this.sidecarPath);
      } catch (e) {
        throw diskError(e, this.sidecarPath);
      }
    });
    this.sidecarWrite = p.catch(() => undefined);
    return p;
  }

  private async openPartial(resume: boolean): Promise<FileHandle> {
    try {
      if (resume) return await open(this.partial, 'r+');
    } catch {
      // The partial file went missing: start it again (the sidecar is rewritten as ranges land).
    }
    try {
      await rm(this.sidecarPath, { force: true });
      return await open(this.partial, 'w');
    } catch (e) {
      throw diskError(e, this.partial);
    }
  }

  private async checkSpace(needed: number): Promise<void> {
    let free: number;
    try {
      free = await freeBytes(dirname(this.o.dest));
    } catch (e) {
      throw diskError(e, dirname(this.o.dest));
    }
    if (free < needed) {
      throw new AppError('storage_error', `not enough free space for ${this.o.dest}: ${needed} bytes needed, ${free} free on its disk; free some space and download again (finished ranges are kept)`, {
        details: { errno: 'ENOSPC', needed, free },
      });
    }
  }

  private async discard(): Promise<void> {
    await rm(this.partial, { force: true });
    await rm(this.sidecarPath, { force: true });
  }
}

/** fs errors as AppErrors; a full disk says so plainly. Not retried (no status, not network). */
function diskError(e: unknown, path: string): AppError {
  if (e instanceof AppError) return e;
  const code = (e as { code?: string }).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AppError('storage_error', `no space left on the device while writing ${path}: free some space and download again (finished ranges are kept)`, { cause: e, details: { errno: code } });
  }
  return new AppError('storage_error', `cannot write ${path}: ${(e as Error).message}`, { cause: e, details: { errno: code } });
}

/** Downloads `source` to `dest` (see Downloader). */
export function downloadFile(o: DownloadOptions, opts: { signal?: AbortSignal } = {}): Promise<DownloadResult> {
  return new Downloader(o).start(opts);
}
