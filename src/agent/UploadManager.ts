import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { Emitter } from '../core/Emitter.js';
import { AppError, isAppError, toAppError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { UploadState, UploadView } from '../core/schemas/agent.js';
// Module by module, not the transfer index: that would load the AWS SDK (S3Transport) into the agent.
import type { BackendClient } from '../core/transfer/BackendClient.js';
import type { UploaderState } from '../core/transfer/MultipartUploader.js';
import type { UploadSession } from '../core/transfer/PartTransport.js';
import { prepareUpload } from '../core/transfer/uploadFile.js';
import { datasetKindOf, fingerprint, inspectLabels, labelsWarnings, resolveDataset, sameFingerprint } from './datasets.js';
import { slpSummaryView, uploadView, writeDatasetManifest, type RunProgress, type UploadRecord } from './uploadView.js';
import type { Ledger, LedgerFile, LedgerUpload } from './Ledger.js';

export interface UploadEvent {
  type: 'state' | 'progress' | 'removed';
  upload: UploadView;
}

export interface UploadManagerOptions {
  ledger: Ledger;
  backend: BackendClient;
  /** Where folder manifests are written before they are uploaded (`<data>/agent/manifests`). */
  manifestDir: string;
  concurrency: number | 'auto';
  partSize: number;
  /** Fail an upload after waiting this long for S3 or the backend when it does not answer (ms). Default 1 hour. */
  outageLimitMs?: number;
  log: Logger;
}

interface Run extends RunProgress {
  ctrl: AbortController;
  paused: boolean;
  cancelled: boolean;
  uploader?: { pause(): void; resume(): void; cancel(): Promise<void> };
  promise: Promise<UploadView>;
}

const FINAL: UploadState[] = ['completed', 'cancelled'];
const STATE_OF: Partial<Record<UploaderState, UploadState>> = { reconciling: 'uploading', running: 'uploading', paused: 'paused', completing: 'completing' };

/**
 * Every upload of the agent (or of `sleap-rtc upload`): validation, the ledger records, the
 * transfer engine runs, resume after a crash, pause / resume / delete, and events.
 */
export class UploadManager {
  private readonly runs = new Map<string, Run>();
  private readonly changed = new Emitter<UploadEvent>((err) => this.o.log.warn('event listener failed', { error: String(err) }));
  private closed = false;

  constructor(private readonly o: UploadManagerOptions) {}

  onDidChange(fn: (e: UploadEvent) => void): () => void {
    return this.changed.event(fn);
  }

  /** Restarts every upload the ledger holds unfinished (not the paused ones). */
  resumeUnfinished(): void {
    for (const u of this.o.ledger.uploads()) if (['queued', 'hashing', 'uploading', 'completing'].includes(u.state)) void this.launch(u.id).catch(() => undefined);
  }

  /** An unfinished upload of this path (what a rerun of `sleap-rtc upload` continues). */
  findUnfinished(path: string): LedgerUpload | undefined {
    return this.o.ledger.uploads().find((u) => u.path === path && !FINAL.includes(u.state));
  }

  /**
   * The newest completed upload of this one file, if the file is unchanged since (same size, mtime
   * and first/last MiB): a job submitted again on the same dataset reuses it instead of sending it again.
   */
  async findCompleted(path: string): Promise<UploadView | undefined> {
    const done = this.o.ledger.uploads().filter((u) => u.path === path && u.state === 'completed' && u.dataset === 'file' && u.files.length === 1 && u.files[0].done);
    const last = done[done.length - 1];
    if (!last) return undefined;
    const now = await fingerprint(path).catch(() => undefined);
    return now && sameFingerprint(last.files[0].fingerprint, now) ? this.view(last) : undefined;
  }

  /** Validates the dataset and records the upload; `start` (default) launches it. */
  async create(path: string, origin: string, opts: { start?: boolean } = {}): Promise<UploadView> {
    if (this.closed) throw new AppError('conflict', 'the agent is shutting down');
    const ds = await resolveDataset(path);
    const now = new Date().toISOString();
    const first = ds.labels[0];
    const u: UploadRecord = {
      id: `up_${Date.now().toString(36)}${randomBytes(5).toString('hex')}`,
      path: ds.path,
      dataset: ds.kind,
      state: 'queued',
      createdAt: now,
      updatedAt: now,
      size: ds.size,
      warnings: labelsWarnings(ds),
      files: ds.files.map((f) => ({ path: f.path, relativePath: f.relativePath, parts: {} })),
      origin,
      ...(first ? { slp: slpSummaryView(first.relativePath, first.summary) } : {}),
    };
    await this.o.ledger.putUpload(u);
    if (opts.start !== false) void this.launch(u.id).catch(() => undefined);
    return this.view(u);
  }

  list(): UploadView[] {
    return this.o.ledger.uploads().map((u) => this.view(u));
  }

  get(id: string): UploadView {
    return this.view(this.need(id));
  }

  async pause(id: string): Promise<UploadView> {
    const u = this.need(id);
    if (FINAL.includes(u.state) || u.state === 'failed') throw new AppError('conflict', `upload ${id} is ${u.state}; only a running upload can be paused`);
    const run = this.runs.get(id);
    if (run) {
      run.paused = true;
      run.uploader?.pause();
    }
    await this.setState(u, 'paused');
    return this.view(u);
  }

  async resume(id: string): Promise<UploadView> {
    const u = this.need(id);
    if (u.state !== 'paused' && u.state !== 'failed') return this.view(u);
    const run = this.runs.get(id);
    if (run) {
      run.paused = false;
      run.uploader?.resume();
      await this.setState(u, 'uploading');
    } else {
      u.error = undefined;
      await this.setState(u, 'queued');
      void this.launch(id).catch(() => undefined);
    }
    return this.view(u);
  }

  /** Cancels (aborting the multipart uploads, so S3 frees the parts) and forgets the upload. */
  async remove(id: string): Promise<void> {
    const u = this.need(id);
    const run = this.runs.get(id);
    if (run) {
      run.cancelled = true;
      await run.uploader?.cancel().catch(() => undefined);
      run.ctrl.abort(new AppError('aborted', 'the upload was deleted'));
      await run.promise.catch(() => undefined);
    }
    for (const f of [...u.files, ...(u.manifest ? [u.manifest] : [])]) if (f.session && !f.done) await this.abortQuietly(f.session);
    await this.o.ledger.removeUpload(id);
    this.emit({ type: 'removed', upload: { ...this.view(u), state: 'cancelled' } });
  }

  /** Runs (or continues) an upload; resolves with its final view. */
  launch(id: string): Promise<UploadView> {
    const existing = this.runs.get(id);
    if (existing) return existing.promise;
    const u = this.need(id);
    const run: Run = { ctrl: new AbortController(), paused: false, cancelled: false, doneBytes: 0, promise: Promise.resolve(this.view(u)) };
    run.promise = this.execute(u, run).finally(() => this.runs.delete(id));
    this.runs.set(id, run);
    return run.promise;
  }

  /** Stops every run without aborting its multipart upload (resumed at the next start). */
  async close(): Promise<void> {
    this.closed = true;
    const runs = [...this.runs.values()];
    for (const r of runs) r.ctrl.abort(new AppError('aborted', 'the agent is stopping'));
    await Promise.allSettled(runs.map((r) => r.promise));
    await this.o.ledger.close();
  }

  private async execute(u: LedgerUpload, run: Run): Promise<UploadView> {
    const log = this.o.log.child('upload', { upload: u.id });
    try {
      await this.setState(u, 'hashing');
      for (const f of u.files) {
        if (f.done) {
          run.doneBytes += f.done.size;
          continue;
        }
        await this.uploadOne(u, f, run);
        run.doneBytes += f.done!.size;
      }
      if (u.dataset === 'folder') {
        u.manifest ??= await this.writeManifest(u);
        if (!u.manifest.done) await this.uploadOne(u, u.manifest, run);
      }
      run.progress = undefined;
      await this.setState(u, 'completed');
      log.info('dataset uploaded', { files: u.files.length, size: u.size });
    } catch (e) {
      if (run.cancelled) return { ...this.view(u), state: 'cancelled' };
      if (run.ctrl.signal.aborted) return this.view(u);
      const err = toAppError(e);
      log.warn('upload failed', { code: err.code, error: err.message });
      u.error = { code: err.code, message: err.code === 'internal' ? `internal error: ${err.message}` : err.message };
      // A file that changed or vanished must never be mixed into its old multipart upload:
      // abort it (S3 frees the parts) and forget it; an unchanged file keeps it for a resume.
      for (const f of [...u.files, ...(u.manifest ? [u.manifest] : [])]) {
        if (f.done || !f.session) continue;
        const now = await fingerprint(f.path).catch(() => undefined);
        if (err.code === 'source_changed' || !now || !sameFingerprint(f.fingerprint, now)) {
          await this.abortQuietly(f.session);
          Object.assign(f, { session: undefined, sha256: undefined, parts: {} });
          const why = err.message.replace(/; start a new upload$/, '');
          if (!now && err.code !== 'not_found') u.error = { code: 'source_changed', message: `${f.path} was deleted or became unreadable during its upload (${why}); the partial upload was discarded: put the file back (or choose another) and upload it again` };
          else if (now) u.error = { code: 'source_changed', message: `${f.path} changed during its upload (${why}); the partial upload was discarded: upload it again once the file is complete and no longer written to` };
        }
      }
      await this.setState(u, 'failed');
    }
    return this.view(u);
  }

  private async uploadOne(u: LedgerUpload, f: LedgerFile, run: Run): Promise<void> {
    const { ledger } = this.o;
    const fp = await fingerprint(f.path).catch((e: NodeJS.ErrnoException) => {
      throw new AppError(e.code === 'ENOENT' ? 'not_found' : 'bad_request', `${f.path} ${e.code === 'ENOENT' ? 'was deleted' : `cannot be read (${e.code})`} before its upload finished; upload it again`);
    });
    let resume: { session: UploadSession; sha256: string; doneParts: ReturnType<Ledger['doneParts']> } | undefined;
    if (f.session && f.sha256) {
      if (sameFingerprint(f.fingerprint, fp)) resume = { session: f.session, sha256: f.sha256, doneParts: ledger.doneParts(f) };
      else {
        await this.restartFile(u, f, `${f.relativePath} changed since its upload started; it was uploaded again from the start`);
        await this.refreshLabels(u, f);
      }
    }
    f.fingerprint = fp;
    for (;;) {
      try {
        const p = await prepareUpload(
          {
            path: f.path,
            target: { kind: 'presigned', backend: this.o.backend, fileName: basename(f.path), artifact: 'dataset', prefixId: u.prefixId, relativePath: u.dataset === 'folder' ? f.relativePath : undefined },
            partSize: this.o.partSize,
            concurrency: this.o.concurrency,
            outageLimitMs: this.o.outageLimitMs,
            onWaiting: (w) => {
              run.waiting = w;
              this.emit({ type: 'progress', upload: this.view(u) });
            },
            resume,
            log: this.o.log.child('transfer', { upload: u.id }),
            onSession: async ({ session, sha256 }) => {
              f.session = session;
              f.sha256 = sha256;
              if (!resume) f.parts = {};
              u.prefixId ??= session.prefixId;
              await ledger.flush();
            },
            onPartDone: (part) => ledger.addPart(f, part),
            onReconciled: (r) => {
              const was = run.resumed ?? { parts_reused: 0, part_count: 0, bytes_reused: 0 };
              run.resumed = { parts_reused: was.parts_reused + r.partsReused, part_count: was.part_count + r.partCount, bytes_reused: was.bytes_reused + r.bytesReused };
              this.emit({ type: 'progress', upload: this.view(u) });
            },
            onProgress: (pr) => {
              run.progress = pr;
              this.emit({ type: 'progress', upload: this.view(u) });
            },
            onStateChange: (s) => {
              const st = STATE_OF[s];
              if (st && !(st === 'uploading' && run.paused)) void this.setState(u, st).catch(() => undefined);
            },
          },
          { signal: run.ctrl.signal },
        );
        run.uploader = p.uploader;
        if (run.paused) p.uploader.pause();
        try {
          const r = await p.uploader.start({ signal: run.ctrl.signal }).finally(() => (run.waiting = undefined));
          f.done = { key: r.key, bucket: r.bucket, s3Path: r.s3Path, etag: r.etag, size: r.size, sha256: r.sha256 };
          run.progress = undefined;
          await ledger.flush();
        } finally {
          run.uploader = undefined;
          p.close();
        }
        return;
      } catch (e) {
        if (resume && !run.ctrl.signal.aborted && (isAppError(e, 'upload_not_found') || isAppError(e, 'source_changed'))) {
          const why = isAppError(e, 'upload_not_found')
            ? `the interrupted upload of ${f.relativePath} no longer exists on the server (aborted or expired); it was uploaded again from the start`
            : `${f.relativePath} changed since its upload started; it was uploaded again from the start`;
          await this.restartFile(u, f, why);
          resume = undefined;
          continue;
        }
        throw e;
      }
    }
  }

  /** A labels file that changed is summarised again (the view must describe what is uploaded). */
  private async refreshLabels(u: UploadRecord, f: LedgerFile): Promise<void> {
    if (!u.slp || u.slp.file !== f.relativePath || datasetKindOf(f.path) !== 'slp') return;
    try {
      u.slp = slpSummaryView(f.relativePath, await inspectLabels(f.path));
    } catch (e) {
      // No longer a readable labels file: say so; the upload itself goes on with the bytes there are.
      u.slp = undefined;
      u.warnings.push(`${f.relativePath} changed and can no longer be read as a SLEAP labels file: ${(e as Error).message}`);
    }
    await this.o.ledger.flush();
  }

  private async restartFile(u: LedgerUpload, f: LedgerFile, warning: string): Promise<void> {
    if (f.session) await this.abortQuietly(f.session);
    f.session = undefined;
    f.sha256 = undefined;
    f.parts = {};
    u.warnings.push(warning);
    this.o.log.warn('upload restarted', { upload: u.id, reason: warning });
    await this.o.ledger.flush();
  }

  private async writeManifest(u: LedgerUpload): Promise<LedgerFile> {
    const entry = await writeDatasetManifest(u, this.o.manifestDir);
    u.manifest = entry;
    await this.o.ledger.flush();
    return entry;
  }

  private async abortQuietly(s: UploadSession): Promise<void> {
    await this.o.backend.abortUpload(s.key, s.uploadId).catch((e: unknown) => {
      if (!isAppError(e, 'upload_not_found')) this.o.log.warn('abort failed', { error: String((e as Error).message) });
    });
  }

  private async setState(u: LedgerUpload, state: UploadState): Promise<void> {
    if (u.state === state) return;
    await this.o.ledger.update(u.id, (x) => (x.state = state));
    this.emit({ type: 'state', upload: this.view(u) });
  }

  private need(id: string): LedgerUpload {
    const u = this.o.ledger.upload(id);
    if (!u) throw new AppError('not_found', `no upload ${id}`);
    return u;
  }

  private emit(e: UploadEvent): void {
    this.changed.fire(e);
  }

  view(u: LedgerUpload): UploadView {
    return uploadView(u, this.runs.get(u.id));
  }
}
