import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AppError, toAppError } from '../../core/errors.js';
import type { DatasetRef } from '../../core/schemas/jobs.js';
import type { BackendClient } from '../../core/transfer/index.js';
import type { UploadManager } from '../UploadManager.js';
import { missingImagesFor, resolveDataset } from '../datasets.js';

/** Where a job's dataset comes from, as recorded at submit. */
export interface JobDataset {
  /** The dataset as recorded: an s3:// path as given, a local path made absolute. */
  dataset: string;
  /** Known now (an object in the room, or an unchanged file uploaded before). */
  datasetRef?: DatasetRef;
  /** A local file's upload, made for this job or finished before. */
  uploadId?: string;
}

/**
 * The dataset a job trains on, as the worker is told about it (an s3:// object with its size and
 * SHA-256, which the worker verifies). A local file is uploaded through the agent's uploads first;
 * a file unchanged since a finished upload reuses that object.
 */
export class JobDatasets {
  constructor(
    private readonly uploads: UploadManager,
    private readonly backend: BackendClient,
  ) {}

  /**
   * At submit: checks the dataset now, so that a bad one is refused before a job is recorded,
   * and one whose images `trainer` needs but cannot get before anything is uploaded.
   */
  async resolve(dataset: string, trainer?: string): Promise<JobDataset> {
    if (dataset.startsWith('s3://')) return { dataset, datasetRef: await this.remote(dataset) };
    const path = resolve(dataset);
    const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
      throw new AppError('not_found', `dataset ${path} does not exist (${e.code}): give the path of a .slp or .pkg.slp file`);
    });
    if (st.isDirectory()) throw new AppError('bad_request', `dataset ${path} is a folder: a job trains on one labels file; give the .slp or .pkg.slp inside it`);
    if (trainer) {
      const missing = missingImagesFor(trainer, await resolveDataset(path));
      if (missing) throw new AppError('bad_request', `dataset ${path}: ${missing}`);
    }
    const done = await this.uploads.findCompleted(path);
    if (done?.s3_path && done.sha256) {
      // Unchanged since it was uploaded: the worker reads the same object (and its cache has it).
      return { dataset: path, uploadId: done.id, datasetRef: { type: 's3', path: done.s3_path, size_bytes: done.size, checksum: `sha256:${done.sha256}` } };
    }
    return { dataset: path, uploadId: (await this.uploads.create(path, 'job')).id };
  }

  /** Runs (or resumes) a job's upload to its end; the uploaded object, or why there is none. */
  async uploaded(job: { dataset: string; uploadId?: string; id: string }): Promise<DatasetRef> {
    if (!job.uploadId) throw new AppError('internal', `job ${job.id} has neither a dataset reference nor an upload`);
    const view = await this.uploads.launch(job.uploadId).catch((e: unknown) => {
      throw new AppError('bad_request', `the dataset ${job.dataset} could not be uploaded: ${toAppError(e).message}`);
    });
    if (view.state !== 'completed' || !view.s3_path || !view.sha256) {
      throw new AppError('bad_request', `the dataset ${job.dataset} was not uploaded (upload ${job.uploadId} is ${view.state}${view.error ? `: ${view.error.message}` : ''})`);
    }
    return { type: 's3', path: view.s3_path, size_bytes: view.size, checksum: `sha256:${view.sha256}` };
  }

  /** An object already in the room's storage: it must carry the SHA-256 the worker checks. */
  private async remote(path: string): Promise<DatasetRef> {
    // Asked while a job request waits for its answer: an unreachable backend is said now, not waited for.
    const info = await this.backend.requestDownload(path, { outage: 'count' }).catch((e: unknown) => {
      const err = toAppError(e);
      throw new AppError(err.code === 'not_found' ? 'not_found' : err.code, `dataset ${path}: ${err.message}`);
    });
    if (!info.sha256) throw new AppError('bad_request', `dataset ${path} has no SHA-256 in its metadata, so the worker could not verify it: upload it through the agent (POST /api/uploads) and use that path`);
    return { type: 's3', path: `s3://${info.bucket}/${info.key}`, size_bytes: info.size, checksum: `sha256:${info.sha256}` };
  }
}
