import { AppError, isAppError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { partRange } from '../parts.js';
import { checksumOfRange, md5Hex, type FileDigest, type PartChecksum, type PartChecksumAlgorithm } from './checksum.js';
import { Md5Worker } from './Md5Worker.js';
import type { PartSource } from './PartSource.js';
import type { CompletedUpload, DonePart, PartReceipt, PartTransport, RemotePart, UploadSession } from './PartTransport.js';
import type { AdaptiveConcurrency } from './AdaptiveConcurrency.js';
import { PartQueue, type RunContext } from './PartQueue.js';
import { ProgressMeter, type TransferProgress } from './progress.js';
import { describeWaiting, type OutageWaiting } from './outage.js';
import { abortError, DEFAULT_RETRY, PAUSED, throwIfAborted, type FailureKind, type RetryPolicy } from './retry.js';
import { bareEtag } from '../etag.js';

export type UploaderState = 'idle' | 'reconciling' | 'running' | 'paused' | 'completing' | 'done' | 'cancelled' | 'stopped' | 'failed';

export interface MultipartUploaderOptions {
  source: PartSource;
  transport: PartTransport;
  /** SHA-256 of the whole file (given to request-upload); returned in the result. */
  sha256?: string;
  /** Parts in flight at once, or 'auto' (the default): adapted to the measured throughput (AdaptiveConcurrency). */
  concurrency?: number | 'auto';
  /** Abort and retry a part whose bytes stop moving this long. Default 30 s. */
  stallTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Per-part checksum sent with each part (see checksum.ts). Default 'crc32'. */
  partChecksum?: PartChecksumAlgorithm;
  /** A digestFile() of the source: its part checksums are used when part size and algorithm match. */
  digest?: FileDigest;
  /** Resume: parts a ledger recorded as done. They are reconciled with ListParts (S3 wins). */
  doneParts?: DonePart[];
  /** Called once per part S3 accepted, before the part counts as done: persist it here. */
  onPartDone?: (part: DonePart) => void | Promise<void>;
  onProgress?: (p: TransferProgress) => void;
  onStateChange?: (s: UploaderState) => void;
  /** Resume: what S3 already holds and is kept, once reconcile has compared it with the file. */
  onReconciled?: (r: ReconcileResult) => void;
  progressIntervalMs?: number;
  /** Fail after waiting this long for S3 or the backend when it does not answer (ms). Default 1 hour (outage.ts). */
  outageLimitMs?: number;
  /** The upload is waiting for an endpoint that does not answer (undefined: no longer). */
  onWaiting?: (w: OutageWaiting | undefined) => void;
  log?: Logger;
  random?: () => number;
}

export interface ReconcileResult {
  partsReused: number;
  partCount: number;
  bytesReused: number;
}

export interface UploadResult extends CompletedUpload {
  sha256?: string;
  session: UploadSession;
  /** Parts this uploader sent (not taken over from an earlier run). */
  partsSent: number;
  partsReused: number;
  /** Bytes handed to the network, resends included. */
  bytesSent: number;
  retries: Record<FailureKind, number>;
}

interface PartItem {
  id: number;
  size: number;
  start: number;
  end: number;
}


/**
 * One file's multipart upload: reconcile (resume), send parts through a PartQueue, complete.
 * pause() aborts the parts in flight with the PAUSED sentinel and keeps done parts; resume()
 * starts a new epoch; cancel() stops and aborts the multipart upload; aborting start()'s signal
 * stops without aborting (the upload can be resumed later from onPartDone's records).
 */
export class MultipartUploader {
  private stateValue: UploaderState = 'idle';
  private readonly queue: PartQueue<PartItem>;
  private readonly done = new Map<number, DonePart>();
  private readonly meter: ProgressMeter;
  private readonly log: Logger;
  private readonly algorithm: PartChecksumAlgorithm;
  private epoch?: AbortController;
  private pauseRequested = false;
  private cancelRequested = false;
  private resumeWaiter?: { resolve: () => void; reject: (e: unknown) => void };
  private runPromise?: Promise<UploadResult>;
  private partsSent = 0;
  /** Checks ETags against the parts' MD5 where the server did not confirm a checksum; started on first need. */
  private md5Worker?: Md5Worker;
  private unverifiableWarned = false;
  private waitingValue?: OutageWaiting;
  private readonly callWaiting = (w: OutageWaiting | undefined): void => this.waitingChanged(w);

  constructor(private readonly o: MultipartUploaderOptions) {
    const s = o.transport.session;
    if (o.source.size !== s.fileSize) throw new AppError('source_changed', `${o.source.name} has ${o.source.size} bytes but the upload was started for ${s.fileSize}; start a new upload`);
    this.algorithm = o.partChecksum ?? 'crc32';
    this.log = (o.log ?? silentLogger).child('upload', { key: s.key, upload_id: s.uploadId });
    const items: PartItem[] = [];
    for (let n = 1; n <= s.partCount; n++) {
      const r = partRange(n, s.fileSize, s.partSize);
      items.push({ id: n, size: r.end - r.start, ...r });
    }
    const retry = { ...DEFAULT_RETRY, ...o.retry };
    this.queue = new PartQueue(items, {
      itemName: 'part',
      concurrency: o.concurrency ?? 'auto',
      retry,
      stallTimeoutMs: o.stallTimeoutMs ?? 30_000,
      random: o.random,
      run: (item, ctx) => this.sendPart(item, ctx),
      onProgress: () => this.meter.update(this.queue.bytesDone, this.queue.bytesMoved),
      outageLimitMs: o.outageLimitMs,
      onWaiting: (w) => this.waitingChanged(w),
      // A probe while an endpoint is down is said once, when the wait begins (onWaiting); each probe is debug.
      onRetry: (r) => this.log[r.kind === 'unreachable' ? 'debug' : 'warn']('part retried', { part: r.item.id, kind: r.kind, attempt: r.attempt, delay_ms: r.delayMs, error: r.error instanceof Error ? r.error.message : String(r.error) }),
    });
    this.meter = new ProgressMeter({ totalBytes: s.fileSize, intervalMs: o.progressIntervalMs, emit: (p) => o.onProgress?.(p), concurrency: () => this.queue.currentLimit });
  }

  get state(): UploaderState {
    return this.stateValue;
  }

  /** The endpoint the upload is waiting for, while S3 or the backend does not answer. */
  get waiting(): OutageWaiting | undefined {
    return this.waitingValue;
  }

  private waitingChanged(w: OutageWaiting | undefined): void {
    if (w) this.log.warn(describeWaiting(w), { endpoint: w.endpoint, reason: w.reason });
    // Ended by an answer, a pause or the give-up: the state that follows says which.
    else if (this.waitingValue) this.log.info(`no longer waiting for ${this.waitingValue.service} at ${this.waitingValue.endpoint}`, { waited_ms: Date.now() - this.waitingValue.since });
    this.waitingValue = w;
    this.o.onWaiting?.(w);
  }

  get progress(): TransferProgress {
    return this.meter.snapshot(this.queue.bytesDone, this.queue.bytesMoved);
  }

  /** How the adaptive limit moved (concurrency 'auto'; undefined when fixed). */
  get concurrencyHistory(): AdaptiveConcurrency['history'] | undefined {
    return this.queue.adaptive?.history;
  }

  /** Bytes handed to the network so far, resends included. */
  get bytesSent(): number {
    return this.queue.bytesMoved;
  }

  /** Parts done so far (what a ledger holds). */
  get doneParts(): DonePart[] {
    return [...this.done.values()].sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Runs the upload to the end. Call once. */
  start(opts: { signal?: AbortSignal } = {}): Promise<UploadResult> {
    if (this.runPromise) return Promise.reject(new Error('MultipartUploader.start may be called once'));
    this.runPromise = this.run(opts.signal);
    return this.runPromise;
  }

  pause(): void {
    if (this.pauseRequested || ['done', 'cancelled', 'stopped', 'failed', 'completing'].includes(this.stateValue)) return;
    this.pauseRequested = true;
    this.epoch?.abort(PAUSED);
  }

  resume(): void {
    if (!this.pauseRequested) return;
    this.pauseRequested = false;
    this.resumeWaiter?.resolve();
  }

  /** Stops the parts in flight, waits for them to settle, then aborts the multipart upload. */
  async cancel(opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.stateValue === 'done' || this.cancelRequested) return;
    this.cancelRequested = true;
    const reason = new AppError('aborted', 'the upload was cancelled');
    this.epoch?.abort(reason);
    this.resumeWaiter?.reject(reason);
    if (this.runPromise) await this.runPromise.catch(() => undefined);
    else this.setState('cancelled');
    await this.o.transport.abort(opts);
  }

  private async run(outer: AbortSignal | undefined): Promise<UploadResult> {
    const s = this.o.transport.session;
    let reused = 0;
    try {
      if (this.o.doneParts !== undefined) {
        this.setState('reconciling');
        reused = await this.reconcile(outer);
      }
      for (;;) {
        this.checkStop(outer);
        if (this.pauseRequested) {
          this.setState('paused');
          await this.waitForResume(outer);
        }
        this.checkStop(outer);
        this.epoch = new AbortController();
        const epoch = this.epoch;
        const onOuter = (): void => epoch.abort(outer!.reason);
        outer?.addEventListener('abort', onOuter, { once: true });
        this.setState('running');
        this.meter.reset();
        // A pause that landed between the check above and the new controller.
        if (this.pauseRequested) epoch.abort(PAUSED);
        let outcome: 'done' | 'paused';
        try {
          outcome = await this.queue.run(epoch.signal);
        } finally {
          outer?.removeEventListener('abort', onOuter);
        }
        if (outcome === 'done') break;
        this.setState('paused');
        this.meter.update(this.queue.bytesDone, this.queue.bytesMoved, true);
      }
      this.setState('completing');
      await this.o.source.checkUnchanged();
      this.checkStop(outer);
      const completed = await this.o.transport.complete(this.doneParts, { signal: outer, onWaiting: this.callWaiting });
      if (completed.size !== s.fileSize) throw new AppError('upstream_error', `S3 assembled ${completed.size} bytes where ${s.fileSize} were sent`);
      this.setState('done');
      this.meter.update(s.fileSize, this.queue.bytesMoved, true);
      this.log.info('upload complete', { size: completed.size, parts_sent: this.partsSent, parts_reused: reused, bytes_sent: this.queue.bytesMoved });
      return {
        ...completed,
        sha256: this.o.sha256 ?? completed.sha256,
        session: s,
        partsSent: this.partsSent,
        partsReused: reused,
        bytesSent: this.queue.bytesMoved,
        retries: { ...this.queue.retries },
      };
    } catch (e) {
      if (this.cancelRequested) {
        this.setState('cancelled');
        throw new AppError('aborted', 'the upload was cancelled', { cause: e });
      }
      if (outer?.aborted) {
        this.setState('stopped');
        throw abortError(outer);
      }
      this.setState('failed');
      throw e;
    } finally {
      this.md5Worker?.close();
      this.md5Worker = undefined;
    }
  }

  private checkStop(outer: AbortSignal | undefined): void {
    if (this.cancelRequested) throw new AppError('aborted', 'the upload was cancelled');
    throwIfAborted(outer);
  }

  private waitForResume(outer: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onOuter = (): void => reject(abortError(outer!));
      const cleanup = (): void => {
        outer?.removeEventListener('abort', onOuter);
        this.resumeWaiter = undefined;
      };
      this.resumeWaiter = {
        resolve: () => (cleanup(), resolve()),
        reject: (e) => (cleanup(), reject(e)),
      };
      if (outer?.aborted) return onOuter();
      outer?.addEventListener('abort', onOuter, { once: true });
    });
  }

  /**
   * Resume: S3's ListParts is the truth. A part counts as done when S3 has it with the right
   * size and, where the ledger or our checksum knows better, the right ETag; every other part
   * (missing, wrong size, ETag disagreeing with the ledger) is sent again. A part the ledger
   * does not know (the crash came between S3's answer and the ledger write) and that no CRC
   * vouches for is reused only when its ETag is the MD5 of the part on disk. Returns parts reused.
   */
  private async reconcile(signal: AbortSignal | undefined): Promise<number> {
    const s = this.o.transport.session;
    const local = new Map((this.o.doneParts ?? []).map((p) => [p.partNumber, p]));
    const remote = await this.o.transport.listParts({ signal, onWaiting: this.callWaiting });
    throwIfAborted(signal);
    const resend: Record<string, number[]> = { size: [], etag: [], checksum: [], missing: [] };
    const seen = new Set<number>();
    const reuse = (r: RemotePart, l: DonePart | undefined): void => {
      this.done.set(r.partNumber, { partNumber: r.partNumber, etag: r.etag, size: r.size, ...(l?.checksum ? { checksum: l.checksum } : {}) });
      this.queue.markDone(r.partNumber);
    };
    const byMd5: RemotePart[] = [];
    for (const r of remote) {
      if (r.partNumber > s.partCount) continue;
      seen.add(r.partNumber);
      const range = partRange(r.partNumber, s.fileSize, s.partSize);
      const l = local.get(r.partNumber);
      const ours = this.precomputed(r.partNumber) ?? l?.checksum;
      const oursMd5 = ours ? md5Hex(ours) : undefined;
      const md5Etag = /^[0-9a-f]{32}$/.test(bareEtag(r.etag));
      const crc = ours?.algorithm === 'crc32' ? r.checksumCrc32 : ours?.algorithm === 'crc32c' ? r.checksumCrc32c : undefined;
      if (r.size !== range.end - range.start) resend.size.push(r.partNumber);
      else if (l && bareEtag(l.etag) !== bareEtag(r.etag)) resend.etag.push(r.partNumber);
      else if (oursMd5 && md5Etag && oursMd5 !== bareEtag(r.etag)) resend.checksum.push(r.partNumber);
      else if (crc && crc !== ours!.value) resend.checksum.push(r.partNumber);
      else if (!l && !oursMd5 && !crc && md5Etag && this.algorithm !== 'none') byMd5.push(r);
      else reuse(r, l);
    }
    // One at a time on the worker thread (reading the disk), in part order.
    for (const r of byMd5) {
      const range = partRange(r.partNumber, s.fileSize, s.partSize);
      if ((await this.md5().md5(this.o.source.name, range.start, range.end, signal)) === bareEtag(r.etag)) reuse(r, undefined);
      else resend.checksum.push(r.partNumber);
    }
    for (const n of local.keys()) if (!seen.has(n)) resend.missing.push(n);
    this.log.info('resume reconciled with ListParts', { parts: s.partCount, on_s3: remote.length, reused: this.done.size, checked_by_md5: byMd5.length, resend_size: resend.size, resend_etag: resend.etag, resend_checksum: resend.checksum, resend_missing: resend.missing });
    this.meter.update(this.queue.bytesDone, this.queue.bytesMoved, true);
    let bytesReused = 0;
    for (const p of this.done.values()) bytesReused += p.size;
    this.o.onReconciled?.({ partsReused: this.done.size, partCount: s.partCount, bytesReused });
    return this.done.size;
  }

  private md5(): Md5Worker {
    return (this.md5Worker ??= new Md5Worker());
  }

  private precomputed(n: number): PartChecksum | undefined {
    const d = this.o.digest;
    if (!d || d.partSize !== this.o.transport.session.partSize) return undefined;
    const c = d.partChecksums[n - 1];
    return c && c.algorithm === this.algorithm ? c : undefined;
  }

  private async checksumFor(item: PartItem, signal: AbortSignal): Promise<PartChecksum | undefined> {
    if (this.algorithm === 'none') return undefined;
    return this.precomputed(item.id) ?? checksumOfRange(this.o.source.name, item.start, item.end, this.algorithm, signal);
  }

  private async sendPart(item: PartItem, ctx: RunContext): Promise<void> {
    const t = this.o.transport;
    if (ctx.refreshUrl) await t.urlsFor([item.id], { signal: ctx.signal, force: true });
    const checksum = await this.checksumFor(item, ctx.signal);
    throwIfAborted(ctx.signal);
    let receipt: PartReceipt;
    try {
      receipt = await t.uploadPart(item.id, this.o.source.open(item.start, item.end), item.size, checksum, { signal: ctx.signal, onBytes: ctx.onBytes });
      // Not aborted by a pause: S3 has the part, and a few ms of hashing decide whether it counts.
      if (checksum && !receipt.verified) await this.checkEtag(item, receipt.etag);
    } catch (e) {
      const d = isAppError(e) ? (e.details as { s3_code?: string; damaged?: boolean } | undefined) : undefined;
      if (checksum && (d?.s3_code === 'BadDigest' || d?.damaged)) {
        // Damaged on the way, or the file changed since the checksum was taken? Read it again.
        const now = await checksumOfRange(this.o.source.name, item.start, item.end, checksum.algorithm, ctx.signal);
        if (now.value !== checksum.value) throw new AppError('source_changed', `${this.o.source.name} changed while it was uploading (part ${item.id}); start a new upload`, { cause: e });
      }
      throw e;
    }
    // S3 has the part now: record it even if a pause or stop landed meanwhile.
    const part: DonePart = { partNumber: item.id, etag: receipt.etag, size: item.size, ...(checksum ? { checksum } : {}) };
    await this.o.onPartDone?.(part);
    this.done.set(item.id, part);
    this.partsSent++;
  }

  /**
   * The server kept quiet about the part's checksum (Ceph RGW ignores x-amz-checksum-*): its ETag
   * is the MD5 of the bytes it stored, so compare that with the MD5 of the part on disk.
   */
  private async checkEtag(item: PartItem, etag: string): Promise<void> {
    const stored = bareEtag(etag);
    if (!/^[0-9a-f]{32}$/.test(stored)) {
      if (!this.unverifiableWarned) this.log.warn('the server neither confirms part checksums nor returns MD5 ETags: parts are checked only by the SHA-256 after download', { part: item.id });
      this.unverifiableWarned = true;
      return;
    }
    const ours = await this.md5().md5(this.o.source.name, item.start, item.end);
    if (ours !== stored) {
      throw new AppError('checksum_mismatch', `part ${item.id}: S3 stored bytes whose MD5 (${stored}) is not the part's (${ours}): damaged on the way, sending it again`, { details: { damaged: true } });
    }
  }

  private setState(s: UploaderState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.o.onStateChange?.(s);
  }
}
