import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, isAppError } from '../core/errors.js';
import { CommandRefused, EventFile, JobEventLog, type JobError } from '../core/jobs/index.js';
import type { Logger } from '../core/log.js';
import { addModel } from '../core/manifest/index.js';
import type { JobCommandName } from '../core/schemas/datachannel.js';
import type { jobRequest } from '../core/schemas/jobs.js';
import type { ManifestModel } from '../core/schemas/manifest.js';
import { downloadFile, S3RangeSource, uploadFile } from '../core/transfer/index.js';
import type { z } from 'zod';
import type { Trainer, TrainerResult, TrainerRun } from './trainers/index.js';

export type JobRequest = z.infer<typeof jobRequest>;

export interface JobRunnerDeps {
  s3: S3Client;
  bucket: string;
  room: string;
  workerId: string;
  /** <data>/cache: datasets by SHA-256. */
  cacheDir: string;
  /** <data>/jobs: one folder per job. */
  jobsDir: string;
  /** Where the job's events are kept for replay (an EventFile: the tail in memory); all in memory without it. */
  eventsDir?: string;
  trainer: Trainer;
  log: Logger;
  /** A job's end (complete or failed) for the client's signaling channel too. */
  notify: (payload: { app_message_type: 'job_complete'; job_id: string; model_id: string; s3_path: string; metrics: Record<string, number> } | { app_message_type: 'job_failed'; job_id: string; error: JobError }) => void;
}

/** The `downloading` status message when the dataset was in the worker's cache. */
export const CACHE_HIT_MESSAGE = 'dataset found in the worker cache';

/** A failure that ends the job with a code and message of its own. */
class JobFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Dataset downloads in progress in this process, by cache path. */
const downloading = new Map<string, Promise<void>>();

/**
 * One accepted job on the worker: download the dataset (cached by SHA-256) -> train -> upload
 * every file of the run folder to rooms/<room>/models/<model_id>/ -> add the model to the room's
 * manifest -> job_complete. Every step is an event in `events` (the JobEventLog clients replay).
 * `command()` maps pause/resume/stop/cancel onto the trainer run. A cancelled job ends with status
 * `cancelled` and a job_failed of code `cancelled`, so that every job ends in one final message.
 */
export class JobRunner {
  readonly events: JobEventLog;
  readonly done: Promise<void>;
  private readonly abort = new AbortController();
  private run: TrainerRun | undefined;
  private cancelled = false;
  /** Set once the model's files are in S3: what a late cancel must remove. */
  private uploaded: { prefix: string; names: string[] } | undefined;
  private readonly log: Logger;
  private begin!: () => void;
  private readonly started = new Promise<void>((resolve) => (this.begin = resolve));

  /** The job's place in the worker's queue while it waits (undefined: it was started, or never waited). */
  private position: number | undefined;

  /** `position`: the job waits in the worker's queue at that place (its first status is `queued`). */
  constructor(
    readonly request: JobRequest,
    readonly clientPeerId: string,
    private readonly deps: JobRunnerDeps,
    position?: number,
  ) {
    this.events = new JobEventLog(request.job_id, Date.now, deps.eventsDir ? new EventFile(join(deps.eventsDir, `${request.job_id}.jsonl`), { temporary: true }) : undefined, request.seq_base ?? 0);
    this.log = deps.log.child('job', { job_id: request.job_id });
    this.position = position;
    if (position === undefined) this.events.appendStatus('accepted');
    else this.events.appendStatus('queued', queuedMessage(position), position);
    this.done = this.execute();
  }

  /** Starts the work; until then the job only holds its slot (the worker answers job_response first) or waits in the queue. */
  start(): void {
    if (this.position !== undefined && !this.finished) {
      this.position = undefined;
      this.events.appendStatus('accepted', 'out of the queue: starting');
    }
    this.begin();
  }

  /** True while the job waits in the worker's queue. */
  get queued(): boolean {
    return this.position !== undefined && !this.finished;
  }

  /** A waiting job moved in the queue: a `queued` status with its new place (nothing when it stays). */
  moveTo(position: number): void {
    if (!this.queued || this.position === position) return;
    this.position = position;
    this.events.appendStatus('queued', queuedMessage(position), position);
  }

  get jobId(): string {
    return this.request.job_id;
  }
  get finished(): boolean {
    return this.events.finished;
  }

  async command(name: JobCommandName): Promise<void> {
    if (this.finished) throw new CommandRefused('job_finished', `job ${this.jobId} has already ended (${this.events.status})`);
    const run = this.run;
    if (name === 'cancel') return this.cancel('cancelled by the client');
    if (!run || run.status === 'completed' || run.status === 'stopped' || run.status === 'failed' || run.status === 'cancelled') {
      throw new CommandRefused('not_running', `job ${this.jobId} is ${this.events.status}, not training: ${name} applies only while training`);
    }
    try {
      if (name === 'pause') await run.pause();
      else if (name === 'resume') await run.resume();
      else await run.stop();
    } catch (e) {
      if (isAppError(e, 'conflict')) throw new CommandRefused(this.finished ? 'job_finished' : 'not_running', e.message);
      throw e;
    }
  }

  /** Cancels the job wherever it is (download, training, upload); resolves once it has ended. */
  async cancel(reason: string): Promise<void> {
    if (this.finished) return this.done;
    this.log.info('cancelling', { reason });
    this.cancelled = true;
    this.abort.abort(new AppError('aborted', reason));
    this.begin(); // a job not started yet ends at once, as cancelled
    await this.run?.cancel();
    await this.done;
  }

  private async execute(): Promise<void> {
    const started = Date.now();
    // Prefixed: job ids may be "." or "..", which must not name a folder.
    const jobDir = join(this.deps.jobsDir, `job-${this.jobId}`);
    try {
      await this.started;
      if (this.cancelled) return await this.endCancelled();
      const dataset = await this.download();
      const result = await this.train(dataset, join(jobDir, 'run'));
      if (this.cancelled || result.status === 'cancelled') return await this.endCancelled();
      if (result.status === 'failed') {
        // The client knows its dataset by its S3 path, not by the worker's cache file.
        const why = (result.error?.message ?? 'the trainer gave no reason').split(dataset).join(this.request.dataset.path);
        throw new JobFailure('training_failed', `training failed: ${why}`);
      }
      this.events.appendStatus('uploading');
      const modelId = `${this.jobId}-${randomBytes(3).toString('hex')}`;
      const { s3Path, size, files } = await this.upload(join(jobDir, 'run'), result.artifacts, modelId);
      if (this.cancelled) return await this.endCancelled();
      await this.register(modelId, s3Path, size, files, result, (Date.now() - started) / 1000);
      this.events.appendStatus(result.status === 'stopped' ? 'stopped' : 'completed');
      const completion = { model_id: modelId, s3_path: s3Path, metrics: result.metrics };
      this.events.appendComplete(completion);
      this.deps.notify({ app_message_type: 'job_complete', job_id: this.jobId, ...completion });
      this.log.info('job complete', { model_id: modelId, s3_path: s3Path });
    } catch (e) {
      if (this.cancelled) return await this.endCancelled();
      const err = e instanceof JobFailure ? { code: e.code, message: e.message } : { code: 'internal', message: e instanceof Error ? e.message : String(e) };
      this.log.warn('job failed', { code: err.code, error: err.message });
      this.events.appendStatus('failed', err.message);
      this.events.appendFailed(err);
      this.deps.notify({ app_message_type: 'job_failed', job_id: this.jobId, error: err });
    } finally {
      // The artifacts are in S3 now (or the job failed): the run folder is not kept.
      await rm(jobDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async endCancelled(): Promise<void> {
    if (this.finished) return;
    if (this.uploaded) await this.removeUploaded(this.uploaded.prefix, this.uploaded.names);
    const error = { code: 'cancelled', message: `job ${this.jobId} was cancelled; no model was kept` };
    this.events.appendStatus('cancelled');
    this.events.appendFailed(error);
    this.deps.notify({ app_message_type: 'job_failed', job_id: this.jobId, error });
  }

  private async download(): Promise<string> {
    const { path, checksum } = this.request.dataset;
    const sha = checksum.slice('sha256:'.length);
    // Only verified downloads are renamed into the cache, so a file there has this SHA-256.
    const dest = join(this.deps.cacheDir, sha);
    if (await stat(dest).then((s) => s.isFile(), () => false)) {
      this.log.info('dataset in cache', { sha256: sha });
      this.events.appendStatus('downloading', CACHE_HIT_MESSAGE);
      return dest;
    }
    this.events.appendStatus('downloading');
    // Two jobs on one dataset (--max-jobs > 1) must not write one `.partial` at once: the second
    // waits for the first, then finds the file cached (or, if that download failed, makes its own).
    for (let other = downloading.get(dest); other; other = downloading.get(dest)) {
      await other.catch(() => undefined);
      if (this.cancelled) throw new AppError('aborted', 'the job was cancelled');
      if (await stat(dest).then((s) => s.isFile(), () => false)) return dest;
    }
    const key = path.replace(/^s3:\/\/[^/]+\//, '');
    // Registered before any await, so that a second job cannot slip in between check and set.
    const mine = mkdir(this.deps.cacheDir, { recursive: true })
      .then(() => downloadFile({ source: new S3RangeSource(this.deps.s3, this.deps.bucket, key), dest, expectedSha256: sha, log: this.log }, { signal: this.abort.signal }))
      .then(() => undefined);
    downloading.set(dest, mine);
    try {
      await mine;
    } catch (e) {
      if (this.cancelled) throw e;
      if (isAppError(e, 'checksum_mismatch')) throw new JobFailure('dataset_checksum_mismatch', `dataset checksum mismatch: ${e.message}`);
      if (isAppError(e, 'not_found')) throw new JobFailure('dataset_not_found', `dataset not found: ${path} does not exist`);
      throw new JobFailure('dataset_download_failed', `could not download the dataset ${path}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      if (downloading.get(dest) === mine) downloading.delete(dest);
    }
    return dest;
  }

  private async train(datasetPath: string, outDir: string): Promise<TrainerResult> {
    await rm(outDir, { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    if (this.cancelled) return { status: 'cancelled', metrics: {}, artifacts: [] };
    this.events.appendStatus('training');
    const run = this.deps.trainer.start({ jobId: this.jobId, datasetPath, config: this.request.config, outDir, signal: this.abort.signal });
    this.run = run;
    run.onProgress((e) => {
      if (!this.finished) this.events.appendProgress(e);
    });
    run.onStatus((s, message) => {
      if (this.finished) return;
      if (s === 'paused' || (s === 'training' && this.events.status === 'paused')) this.events.appendStatus(s, message);
    });
    return run.done;
  }

  private async upload(dir: string, artifacts: string[], modelId: string): Promise<{ s3Path: string; size: number; files: Array<{ name: string; size_bytes: number }> }> {
    const prefix = `rooms/${this.deps.room}/models/${modelId}/`;
    let size = 0;
    const files: Array<{ name: string; size_bytes: number }> = [];
    try {
      for (const name of artifacts) {
        const path = join(dir, name);
        const bytes = (await stat(path)).size;
        size += bytes;
        files.push({ name, size_bytes: bytes });
        if (bytes === 0) await this.deps.s3.send(new PutObjectCommand({ Bucket: this.deps.bucket, Key: prefix + name, Body: '' }), { abortSignal: this.abort.signal });
        else await uploadFile({ path, target: { kind: 's3', s3: this.deps.s3, bucket: this.deps.bucket, key: prefix + name }, log: this.log }, { signal: this.abort.signal });
      }
    } catch (e) {
      if (this.cancelled) {
        // A cancelled job keeps no model: remove what was already uploaded (best effort).
        await this.removeUploaded(prefix, artifacts);
        throw e;
      }
      throw new JobFailure('upload_failed', `could not upload the model to s3://${this.deps.bucket}/${prefix}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.uploaded = { prefix, names: artifacts };
    return { s3Path: `s3://${this.deps.bucket}/${prefix}`, size, files };
  }

  private async removeUploaded(prefix: string, names: string[]): Promise<void> {
    const results = await Promise.allSettled(names.map((n) => this.deps.s3.send(new DeleteObjectCommand({ Bucket: this.deps.bucket, Key: prefix + n }))));
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed > 0) this.log.warn('could not remove every file of a cancelled upload', { prefix, failed });
  }

  private async register(modelId: string, s3Path: string, size: number, files: Array<{ name: string; size_bytes: number }>, result: TrainerResult, elapsedSec: number): Promise<void> {
    const m = result.metrics;
    const model: ManifestModel = {
      id: modelId,
      model_type: modelType(this.deps.trainer.kind, this.request.config.model_config),
      trained_at: new Date().toISOString(),
      trained_on_worker: this.deps.workerId,
      s3_path: s3Path,
      size_bytes: size,
      files,
      notes: '',
      tags: [],
      training: {
        dataset_hash: this.request.dataset.checksum,
        epochs: Math.max(0, Math.round(m.epochs ?? 0)),
        final_loss: m.val_loss ?? m.train_loss ?? null,
        training_duration_sec: Math.max(0, m.duration_sec ?? elapsedSec),
      },
    };
    try {
      await addModel(this.deps.s3, this.deps.bucket, this.deps.room, model, { signal: this.abort.signal });
    } catch (e) {
      if (this.cancelled) throw e;
      throw new JobFailure('manifest_failed', `the model was uploaded to ${s3Path} but the room's manifest could not be updated: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

function queuedMessage(position: number): string {
  return position === 1 ? 'next in the queue' : `position ${position} in the queue`;
}

/** The head type of sleap-nn's model_config (first non-null head_configs entry), or the trainer kind for builtin. */
export function modelType(trainerKind: string, modelConfig: Record<string, unknown>): string {
  if (trainerKind === 'builtin') return 'builtin';
  const heads = modelConfig.head_configs;
  if (heads && typeof heads === 'object' && !Array.isArray(heads)) {
    const head = Object.entries(heads as Record<string, unknown>).find(([, v]) => v !== null && v !== undefined);
    if (head) return head[0];
  }
  return trainerKind;
}
