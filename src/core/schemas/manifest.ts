import { z } from 'zod';
import { roomRelativeKey } from './backend.js';

/**
 * A model id: a key segment (`rooms/<room>/models/<id>/`) and the name of the folder a download
 * makes (`<dest>/<id>/`), so one safe path segment. The manifest can be written by anyone with
 * the bucket's keys: an id such as "../../x" would send a download out of its folder.
 */
export const modelId = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,255}$/, 'model ids are 1-255 letters, digits, ".", "_" or "-"')
  .refine((s) => s !== '.' && s !== '..', 'a model id is not "." or ".."');

/** `rooms/<room_id>/manifest.json` (shaped like sleap-rtc's, docs/facts.md §1), updated under If-Match / If-None-Match: *. */
export const manifestModel = z.object({
  id: modelId,
  alias: z.string().nullish(),
  model_type: z.string(),
  trained_at: z.string(),
  trained_by: z.string().nullish(),
  trained_on_worker: z.string().nullish(),
  s3_path: z.string(),
  size_bytes: z.number().int().min(0),
  notes: z.string().default(''),
  tags: z.array(z.string()).default([]),
  /**
   * The model folder's files (our extension: what a client downloads); absent in older manifests.
   * A name is a path inside the folder (the key under s3_path, the file under the download's
   * folder), held to the room-key rule: no empty, ".", ".." segments, backslashes or control characters.
   */
  files: z.array(z.object({ name: roomRelativeKey, size_bytes: z.number().int().min(0) })).optional(),
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
  models: z.record(modelId, manifestModel),
  aliases: z.record(z.string(), modelId).default({}),
});
export type RoomManifest = z.infer<typeof roomManifest>;
