import { z } from 'zod';
import { jobCommandName, jobEventSchema } from './datachannel.js';
import { jobId, jobStatusValue, trainingConfig } from './jobs.js';

/**
 * The local agent's HTTP API bodies (127.0.0.1, bearer token). Request bodies are strict: an
 * unknown field (a typo such as `auto_uplaod`) is a 400 naming it, not silently ignored.
 */
export const uploadState = z.enum(['queued', 'hashing', 'uploading', 'paused', 'completing', 'completed', 'failed', 'cancelled']);
export type UploadState = z.infer<typeof uploadState>;

export const createUploadBody = z.strictObject({ path: z.string().min(1).max(4096) });

/** A labels file of the dataset as the agent read it (h5wasm) when the upload was added. */
export const slpSummaryView = z.object({
  /** The labels file: its name, or its path inside a folder dataset. */
  file: z.string(),
  /** `pkg.slp` when every video's frames are embedded (self-contained), `slp` otherwise. */
  format: z.enum(['slp', 'pkg.slp']),
  format_version: z.number(),
  labeled_frames: z.number().int(),
  instances: z.number().int(),
  user_instances: z.number().int(),
  predicted_instances: z.number().int(),
  videos: z.array(
    z.object({
      filename: z.string(),
      embedded: z.boolean(),
      frames: z.number().int().optional(),
      height: z.number().int().optional(),
      width: z.number().int().optional(),
    }),
  ),
  skeletons: z.array(z.object({ name: z.string(), nodes: z.array(z.string()) })),
  /** Videos referenced by path only: a remote worker cannot read them. */
  external_videos: z.array(z.string()),
});
export type SlpSummaryView = z.infer<typeof slpSummaryView>;

export const uploadView = z.object({
  id: z.string(),
  path: z.string(),
  state: uploadState,
  size: z.number().int(),
  bytes_done: z.number().int(),
  rate_bps: z.number().optional(),
  eta_s: z.number().optional(),
  /** Parts in flight at most right now (adapted unless --concurrency fixed it). */
  concurrency: z.number().int().optional(),
  key: z.string().optional(),
  bucket: z.string().optional(),
  s3_path: z.string().optional(),
  sha256: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  warnings: z.array(z.string()).default([]),
  /** A resumed upload: what the server already held and was kept (after comparing it with the file). */
  resumed: z.object({ parts_reused: z.number().int(), part_count: z.number().int(), bytes_reused: z.number().int() }).optional(),
  /**
   * The upload is waiting for S3 or the backend, which does not answer (refused, no route, 503):
   * since when (ISO time), who, why, and seconds waited so far. It goes on by itself once the
   * endpoint answers, and fails after the agent's outage limit (--outage-limit).
   */
  waiting: z.object({ since: z.string(), service: z.enum(['S3', 'backend']), endpoint: z.string(), reason: z.string(), waited_s: z.number().int() }).optional(),
  /** The dataset's labels file, read when the upload was added (a folder's first; the others' warnings are in `warnings`). */
  slp: slpSummaryView.optional(),
});
export type UploadView = z.infer<typeof uploadView>;

export const createWatchBody = z.strictObject({ path: z.string().min(1).max(4096), auto_upload: z.boolean().default(true) });
export const deleteWatchBody = z.strictObject({ path: z.string().min(1).max(4096) });

export const createJobBody = z.strictObject({
  /** A local path (uploaded first) or an s3:// path already in the room. */
  dataset: z.string().min(1).max(4096),
  config: trainingConfig.default({ trainer: 'builtin', data_config: {}, model_config: {}, trainer_config: {} }),
  worker: z.string().optional(),
});
export const jobCommandBody = z.strictObject({ command: jobCommandName });
export const jobView = z.object({
  id: jobId,
  status: jobStatusValue,
  /** What was submitted: a local path or an s3:// path. */
  dataset: z.string(),
  /** Where the worker reads the dataset, once known. */
  dataset_s3_path: z.string().optional(),
  /** The upload of a local dataset (GET /api/uploads/:id follows it). */
  upload_id: z.string().optional(),
  worker: z.string().optional(),
  /** While the job waits in its worker's queue (status queued): its place there, 1 being next. */
  queue_position: z.number().int().min(1).optional(),
  /** True once the agent resubmitted the job (its worker restarted and no longer had it); that happens at most once. */
  resubmitted: z.boolean().optional(),
  created_at: z.string(),
  updated_at: z.string(),
  /** The last progress event held (while the agent follows the job). */
  last_seq: z.number().int().optional(),
  model: z.object({ model_id: z.string(), s3_path: z.string(), metrics: z.record(z.string(), z.number()) }).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** The training config as submitted (GET /api/jobs/:id only: SSE views leave it out). */
  config: trainingConfig.optional(),
});
/** GET /api/jobs/:id: the job, its config and its history page. */
export const jobDetail = jobView.extend({ events: z.array(jobEventSchema) });
export type JobDetail = z.infer<typeof jobDetail>;
export const modelDownloadBody = z.strictObject({ dest: z.string().min(1).max(4096) });
export type JobView = z.infer<typeof jobView>;

/** The data of the agent's SSE events (`event: upload`, `event: job`), validated by every client. */
export const uploadEventData = z.object({ type: z.enum(['state', 'progress', 'removed']), upload: uploadView });
export const jobEventData = z.object({ type: z.enum(['state', 'event']), job: jobView, event: jobEventSchema.optional() });
export const resetEventData = z.object({ reason: z.string(), message: z.string() });
