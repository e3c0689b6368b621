import { z } from 'zod';
import { sha256Hex } from './backend.js';
import { jobId, jobStatusValue, queuePosition } from './jobs.js';

/**
 * DataChannel messages (step 3, "Run", of the data flow in docs/architecture.md). JSON text
 * frames are one of these; binary frames are chunks (<= 64 KiB) of the file announced by the
 * last `file_begin`. Progress events use sleap-nn's
 * vocabulary so real sleap-nn output passes through unchanged. `seq` numbers a job's events.
 */
export const MAX_CHUNK_BYTES = 64 * 1024;
const logs = z.record(z.string(), z.number());

export const progressEvent = z.discriminatedUnion('event', [
  z.object({ event: z.literal('train_begin'), wandb_url: z.string().nullish() }).passthrough(),
  z.object({ event: z.literal('epoch_begin'), epoch: z.number().int().min(0) }).passthrough(),
  z.object({ event: z.literal('batch_start'), batch: z.number().int().min(0) }).passthrough(),
  z.object({ event: z.literal('batch_end'), epoch: z.number().int().min(0), batch: z.number().int().min(0), logs }).passthrough(),
  z.object({ event: z.literal('epoch_end'), epoch: z.number().int().min(0), logs }).passthrough(),
  z.object({ event: z.literal('train_end') }).passthrough(),
]);
export type ProgressEvent = z.infer<typeof progressEvent>;

export const jobCommandName = z.enum(['pause', 'resume', 'stop', 'cancel']);
export type JobCommandName = z.infer<typeof jobCommandName>;

export const dataChannelMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), job_id: jobId, after_seq: z.number().int().min(0).default(0) }),
  z.object({ type: z.literal('heartbeat'), t: z.number() }),
  /** `position`: with status `queued`, the job's place in the worker's queue (1: next to start). */
  z.object({ type: z.literal('status'), job_id: jobId, seq: z.number().int().min(1), status: jobStatusValue, message: z.string().optional(), position: queuePosition.optional(), t: z.number() }),
  z.object({ type: z.literal('progress'), job_id: jobId, seq: z.number().int().min(1), data: progressEvent, t: z.number() }),
  z.object({ type: z.literal('command'), job_id: jobId, command_id: z.string().min(1).max(64), command: jobCommandName }),
  z.object({ type: z.literal('command_ack'), job_id: jobId, command_id: z.string(), ok: z.boolean(), error: z.string().optional() }),
  z.object({ type: z.literal('job_complete'), job_id: jobId, seq: z.number().int().min(1), model_id: z.string(), s3_path: z.string(), metrics: z.record(z.string(), z.number()) }),
  z.object({ type: z.literal('job_failed'), job_id: jobId, seq: z.number().int().min(1), error: z.object({ code: z.string(), message: z.string() }) }),
  z.object({ type: z.literal('file_begin'), transfer_id: z.string().min(1).max(64), name: z.string().min(1).max(255), size: z.number().int().min(0).max(100_000_000), kind: z.string().max(32) }),
  z.object({ type: z.literal('file_end'), transfer_id: z.string(), sha256: sha256Hex }),
  z.object({ type: z.literal('file_ack'), transfer_id: z.string(), ok: z.boolean(), error: z.string().optional() }),
]);
export type DataChannelMessage = z.infer<typeof dataChannelMessage>;

/** A job's history event (what JobEventLog numbers by seq), as the agent's API and SSE carry it. */
export const jobEventSchema = z.union([
  dataChannelMessage.options[2],
  dataChannelMessage.options[3],
  dataChannelMessage.options[6],
  dataChannelMessage.options[7],
]);
