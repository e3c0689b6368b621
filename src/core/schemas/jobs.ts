import { z } from 'zod';
import { sha256Hex } from './backend.js';
import { roomIdSchema } from './signaling.js';

/** Job payloads carried as `peer_message.payload` (step 2, "Submit", of the data flow in docs/architecture.md). */
export const jobId = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'job ids are 1-128 letters, digits, ".", "_" or "-"');
export const trainerKind = z.enum(['builtin', 'sleap-nn', 'command']);

export const datasetRef = z.object({
  type: z.literal('s3'),
  path: z.string().regex(/^s3:\/\/[^/]+\/.+/, 'an s3://bucket/key path'),
  size_bytes: z.number().int().min(0),
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/, '"sha256:<64 hex digits>"'),
});
export type DatasetRef = z.infer<typeof datasetRef>;

/** A training config: sleap-nn's three sections are passed through as the trainer reads them. */
export const trainingConfig = z
  .object({
    trainer: trainerKind.default('builtin'),
    data_config: z.record(z.string(), z.unknown()).default({}),
    model_config: z.record(z.string(), z.unknown()).default({}),
    trainer_config: z.object({ max_epochs: z.number().int().min(1).max(100_000).optional(), batch_size: z.number().int().min(1).max(4096).optional() }).passthrough().default({}),
  })
  .passthrough();
export type TrainingConfig = z.infer<typeof trainingConfig>;

/** A place in a worker's queue: 1 is the next job to start. */
export const queuePosition = z.number().int().min(1);
export const jobRequest = z.object({
  app_message_type: z.literal('job_request'),
  job_id: jobId,
  dataset: datasetRef,
  config: trainingConfig,
  room_id: roomIdSchema,
  /**
   * A resubmitted job (the worker restarted and no longer had it): the seq of the last event the
   * client holds. The worker numbers this job's events from seq_base + 1, so the client's history
   * goes on without a gap or a repeat.
   */
  seq_base: z.number().int().min(0).optional(),
});
/** `position`: the job was accepted into the worker's queue at that place (absent: it starts now). */
export const jobResponse = z.object({ app_message_type: z.literal('job_response'), job_id: jobId, accepted: z.boolean(), reason: z.string().optional(), position: queuePosition.optional() });
export const jobStatusValue = z.enum(['queued', 'accepted', 'downloading', 'training', 'paused', 'uploading', 'completed', 'stopped', 'cancelled', 'failed']);
export type JobStatusValue = z.infer<typeof jobStatusValue>;
export const jobStatus = z.object({ app_message_type: z.literal('job_status'), job_id: jobId, status: jobStatusValue, message: z.string().optional() });
export const jobComplete = z.object({ app_message_type: z.literal('job_complete'), job_id: jobId, model_id: z.string(), s3_path: z.string(), metrics: z.record(z.string(), z.number()) });
export const jobFailed = z.object({ app_message_type: z.literal('job_failed'), job_id: jobId, error: z.object({ code: z.string(), message: z.string() }) });
export const jobCancel = z.object({ app_message_type: z.literal('job_cancel'), job_id: jobId });
/**
 * Does the worker still have this job of mine? Answered `job_status` (it has) or `job_failed`
 * with code `unknown_job` (it restarted since): a client with no link yet asks before it offers
 * one (a worker answers offers only from clients with a job there).
 */
export const jobQuery = z.object({ app_message_type: z.literal('job_query'), job_id: jobId });

/**
 * A client (`sleap-rtc doctor`) asks for one WebRTC link without a job: the worker then answers
 * this peer's next offer, within LINK_PROBE_TTL_MS. The link carries nothing but heartbeats
 * (a hello for a job the peer does not own is refused as always).
 */
export const linkProbe = z.object({ app_message_type: z.literal('link_probe') });
export type LinkProbe = z.infer<typeof linkProbe>;
export const LINK_PROBE_TTL_MS = 30_000;

export const jobPeerPayload = z.discriminatedUnion('app_message_type', [jobRequest, jobResponse, jobStatus, jobComplete, jobFailed, jobCancel, jobQuery]);
export type JobPeerPayload = z.infer<typeof jobPeerPayload>;
export { sha256Hex };
