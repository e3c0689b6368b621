import { z } from 'zod';

/** `rooms/<room_id>/manifest.json` (facts.md section 1), updated under If-Match / If-None-Match: *. */
export const manifestModel = z.object({
  id: z.string(),
  alias: z.string().nullish(),
  model_type: z.string(),
  trained_at: z.string(),
  trained_by: z.string().nullish(),
  trained_on_worker: z.string().nullish(),
  s3_path: z.string(),
  size_bytes: z.number().int().min(0),
  notes: z.string().default(''),
  tags: z.array(z.string()).default([]),
  /** The model folder's files (our extension: what a client downloads); absent in older manifests. */
  files: z.array(z.object({ name: z.string().min(1), size_bytes: z.number().int().min(0) })).optional(),
  training: z.object({
    dataset_hash: z.string(),
    epochs: z.number().int().min(0),
    final_loss: z.number().nullable(),
    training_duration_sec: z.number().min(0),
  }),
});
export type ManifestModel = z.infer<typeof manifestModel>;

export const roomManifest = z.object({
  version: z.number().int().min(1),
  room_id: z.string(),
  updated_at: z.string(),
  models: z.record(z.string(), manifestModel),
  aliases: z.record(z.string(), z.string()).default({}),
});
export type RoomManifest = z.infer<typeof roomManifest>;
