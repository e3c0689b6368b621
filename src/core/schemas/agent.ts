import { z } from 'zod';
import { jobCommandName } from './datachannel.js';
import { jobId, jobStatusValue, trainingConfig } from './jobs.js';

/** The local agent's HTTP API bodies (127.0.0.1, bearer token). */
export const uploadState = z.enum(['queued', 'hashing', 'uploading', 'paused', 'completing', 'completed', 'failed', 'cancelled']);
export type UploadState = z.infer<typeof uploadState>;

export const createUploadBody = z.object({ path: z.string().min(1).max(4096) });
export const uploadView = z.object({
  id: z.string(),
  path: z.string(),
  state: uploadState,
  size: z.number().int(),
  bytes_done: z.number().int(),
  rate_bps: z.number().optional(),
  eta_s: z.number().optional(),
  key: z.string().optional(),
  bucket: z.string().optional(),
  s3_path: z.string().optional(),
  sha256: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  warnings: z.array(z.string()).default([]),
});
export type UploadView = z.infer<typeof uploadView>;

export const createWatchBody = z.object({ path: z.string().min(1).max(4096), auto_upload: z.boolean().default(true) });
export const deleteWatchBody = z.object({ path: z.string().min(1).max(4096) });

export const createJobBody = z.object({
  /** A local path (uploaded first) or an s3:// path already in the room. */
  dataset: z.string().min(1).max(4096),
  config: trainingConfig.default({ trainer: 'builtin', data_config: {}, model_config: {}, trainer_config: {} }),
  worker: z.string().optional(),
});
export const jobCommandBody = z.object({ command: jobCommandName });
export const jobView = z.object({ id: jobId, status: jobStatusValue, dataset: z.string(), worker: z.string().optional(), created_at: z.string(), updated_at: z.string(), model: z.object({ model_id: z.string(), s3_path: z.string() }).optional() });
export type JobView = z.infer<typeof jobView>;
