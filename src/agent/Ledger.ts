import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import type { DonePart, UploadSession } from '../core/transfer/index.js';
import type { SlpSummaryView, UploadState } from '../core/schemas/agent.js';
import type { DatasetRef, JobStatusValue, TrainingConfig } from '../core/schemas/jobs.js';

/**
 * The agent's upload ledger: `<data>/agent/ledger.json`, kept with lowdb (atomic writes through
 * steno: temp file + rename, so a kill -9 leaves the old or the new file, never half of one).
 *
 * Parts are recorded in memory at once and written coalesced: a state change (session created,
 * file done, upload state) is written now; part records at most every `minIntervalMs` (200 ms),
 * and never more often than keeps writes under `maxShare` of wall time (the interval stretches
 * to `lastWriteMs / maxShare` when the ledger grows large). A part finished but not yet written
 * when the process dies is not lost work: resume trusts ListParts, and MD5-matching parts S3
 * holds are reused.
 */
export interface FileFingerprint {
  size: number;
  mtimeMs: number;
  /** SHA-256 of the first and last MiB. */
  edges: string;
}

export interface LedgerFile {
  path: string;
  relativePath: string;
  fingerprint?: FileFingerprint;
  session?: UploadSession;
  sha256?: string;
  /** Finished parts by part number. */
  parts: Record<string, Omit<DonePart, 'partNumber'>>;
  done?: { key: string; bucket: string; s3Path: string; etag: string; size: number; sha256?: string };
}

export interface LedgerUpload {
  id: string;
  path: string;
  dataset: 'file' | 'folder';
  state: UploadState;
  createdAt: string;
  updatedAt: string;
  size: number;
  warnings: string[];
  error?: { code: string; message: string };
  prefixId?: string;
  files: LedgerFile[];
  /** The manifest of a folder dataset (uploaded last). */
  manifest?: LedgerFile;
  /** Who asked: 'api', 'cli', 'watch' or 'job'. */
  origin: string;
  /** What h5wasm read of the labels file (frames, videos, skeleton), when it is one. */
  slp?: SlpSummaryView;
}

export interface LedgerWatch {
  path: string;
  autoUpload: boolean;
}

/**
 * A training job the agent submitted. Its progress history is not here (that would rewrite the
 * ledger per event): it is appended to `<data>/agent/jobs/<id>.jsonl` (JobHistory).
 */
export interface LedgerJob {
  id: string;
  status: JobStatusValue;
  /** What the caller gave: a local path or an s3:// path. */
  dataset: string;
  /** The dataset as the worker is told about it, once uploaded. */
  datasetRef?: DatasetRef;
  /** The upload of a local dataset. */
  uploadId?: string;
  config: TrainingConfig;
  worker?: string;
  /** True once the job_request was sent (a restarted agent then re-attaches instead of asking again). */
  requested?: boolean;
  accepted?: boolean;
  /** While the job waits in its worker's queue: its place there (1: next). */
  queuePosition?: number;
  /**
   * Set once the agent resubmitted the job because its worker restarted and no longer had it
   * (never twice): the seq of the agent's own `resubmitted` event, after which the worker
   * numbers the job's events (job_request.seq_base), so the history has no gap and no repeat.
   */
  resubmit?: { seqBase: number };
  createdAt: string;
  updatedAt: string;
  model?: { model_id: string; s3_path: string; metrics: Record<string, number> };
  error?: { code: string; message: string };
}

export interface LedgerData {
  version: 1;
  uploads: Record<string, LedgerUpload>;
  watches: LedgerWatch[];
  jobs: Record<string, LedgerJob>;
  /** The agent's peer id in the signaling room: kept, so that workers know it again after a restart. */
  peerId?: string;
}

export interface LedgerStats {
  writes: number;
  /** Wall time spent in serialising and writing, in ms. */
  writeMs: number;
  /** Time spent in the synchronous record calls (addPart, ...), in ms. */
  recordMs: number;
}

export class Ledger {
  private readonly db: Low<LedgerData>;
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private dirty = false;
  private lastWriteEnd = 0;
  private lastWriteMs = 0;
  readonly stats: LedgerStats = { writes: 0, writeMs: 0, recordMs: 0 };
  /** Set when the file could not be read as a ledger and was kept aside: where, and why. */
  recovered?: { keptAs: string; reason: string };

  private constructor(
    readonly file: string,
    private readonly o: { minIntervalMs: number; maxShare: number },
  ) {
    this.db = new Low<LedgerData>(new DataFile<LedgerData>(file, { parse: JSON.parse, stringify: (d) => JSON.stringify(d) }), { version: 1, uploads: {}, watches: [], jobs: {} });
  }

  static async open(file: string, o: { minIntervalMs?: number; maxShare?: number } = {}): Promise<Ledger> {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const l = new Ledger(file, { minIntervalMs: o.minIntervalMs ?? 200, maxShare: o.maxShare ?? 0.01 });
    try {
      await l.db.read();
      if (typeof l.db.data !== 'object' || l.db.data === null || Array.isArray(l.db.data)) throw new SyntaxError('it holds no JSON object');
    } catch (e) {
      // Not JSON (a disk fault, an edit gone wrong): the agent must still start. The file is kept
      // aside for whoever wants to look (never deleted), and the agent starts with an empty ledger.
      if (!(e instanceof SyntaxError)) throw e;
      const keptAs = existsSync(`${file}.corrupt`) ? `${file}.${Date.now()}.corrupt` : `${file}.corrupt`;
      renameSync(file, keptAs);
      l.recovered = { keptAs, reason: e.message };
      l.db.data = { version: 1, uploads: {}, watches: [], jobs: {} };
    }
    l.db.data.uploads ??= {};
    l.db.data.watches ??= [];
    l.db.data.jobs ??= {};
    return l;
  }

  get data(): LedgerData {
    return this.db.data;
  }

  upload(id: string): LedgerUpload | undefined {
    return this.db.data.uploads[id];
  }

  uploads(): LedgerUpload[] {
    return Object.values(this.db.data.uploads).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Adds or replaces an upload record and writes now. */
  async putUpload(u: LedgerUpload): Promise<void> {
    this.db.data.uploads[u.id] = u;
    await this.flush();
  }

  async removeUpload(id: string): Promise<void> {
    delete this.db.data.uploads[id];
    await this.flush();
  }

  /** Changes an upload in place; `now` writes at once (state changes), otherwise coalesced. */
  async update(id: string, fn: (u: LedgerUpload) => void, now = true): Promise<void> {
    const u = this.db.data.uploads[id];
    if (!u) return;
    fn(u);
    u.updatedAt = new Date().toISOString();
    if (now) await this.flush();
    else this.schedule();
  }

  /** Records a finished part (coalesced write). */
  addPart(file: LedgerFile, part: DonePart): void {
    const t0 = performance.now();
    file.parts[String(part.partNumber)] = { etag: part.etag, size: part.size, ...(part.checksum ? { checksum: part.checksum } : {}) };
    this.schedule();
    this.stats.recordMs += performance.now() - t0;
  }

  doneParts(file: LedgerFile): DonePart[] {
    return Object.entries(file.parts).map(([n, p]) => ({ partNumber: Number(n), ...p }));
  }

  job(id: string): LedgerJob | undefined {
    return this.db.data.jobs[id];
  }

  jobs(): LedgerJob[] {
    return Object.values(this.db.data.jobs).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Adds or changes a job record and writes now (job records change a few times per job). */
  async putJob(j: LedgerJob): Promise<void> {
    j.updatedAt = new Date().toISOString();
    this.db.data.jobs[j.id] = j;
    await this.flush();
  }

  /** The agent's signaling peer id, made once. */
  async peerId(make: () => string): Promise<string> {
    if (!this.db.data.peerId) {
      this.db.data.peerId = make();
      await this.flush();
    }
    return this.db.data.peerId;
  }

  async setWatches(w: LedgerWatch[]): Promise<void> {
    this.db.data.watches = w;
    await this.flush();
  }

  /** Schedules a coalesced write. */
  schedule(): void {
    this.dirty = true;
    if (this.timer || this.writing) return;
    const interval = Math.max(this.o.minIntervalMs, this.lastWriteMs / this.o.maxShare);
    const wait = Math.max(0, this.lastWriteEnd + interval - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writeOnce().then(
        () => {
          if (this.dirty) this.schedule();
        },
        () => undefined,
      );
    }, wait);
  }

  /** Writes now (after a write in progress); resolves once the file holds the current state. */
  async flush(): Promise<void> {
    this.dirty = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.dirty) await this.writeOnce();
  }

  private async writeOnce(): Promise<void> {
    if (this.writing) return this.writing;
    this.dirty = false;
    const t0 = performance.now();
    this.writing = this.db.write().finally(() => {
      const t1 = performance.now();
      this.lastWriteMs = t1 - t0;
      this.lastWriteEnd = t1;
      this.stats.writes++;
      this.stats.writeMs += t1 - t0;
      this.writing = undefined;
    });
    return this.writing;
  }

  /** Writes what is pending and stops the timer. */
  async close(): Promise<void> {
    if (this.timer || this.dirty) await this.flush();
    else if (this.writing) await this.writing;
  }
}
