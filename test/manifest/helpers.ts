import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { addModel, manifestKey, type ManifestWrite } from '../../src/core/manifest/index.js';
import { makeS3Client } from '../../src/core/s3client.js';
import type { ManifestModel } from '../../src/core/schemas/manifest.js';

/** What a writer needs to reach a target (the secret travels by environment to child processes). */
export interface WriterEndpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** A client of the project's factory; each writer gets its own. */
export function clientFor(t: WriterEndpoint): S3Client {
  return makeS3Client({ endpoint: t.endpoint, region: t.region, accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey, forcePathStyle: true });
}

export function modelKey(roomId: string, id: string): string {
  return manifestKey(roomId).replace(/manifest\.json$/, `models/${id}/best.ckpt`);
}

export function checkpointBody(id: string): string {
  return `checkpoint of ${id}\n`;
}

export function makeModel(roomId: string, id: string, extra: Partial<ManifestModel> = {}): ManifestModel {
  return {
    id,
    alias: null,
    model_type: 'single_instance',
    trained_at: '2026-11-24T05:00:00.000Z',
    trained_by: 'tester',
    trained_on_worker: `worker-${id}`,
    s3_path: modelKey(roomId, id),
    size_bytes: Buffer.byteLength(checkpointBody(id)),
    notes: '',
    tags: ['test'],
    training: { dataset_hash: `sha256:${id}`, epochs: 3, final_loss: 0.25, training_duration_sec: 12.5 },
    ...extra,
  };
}

/** What a trainer does at the end: upload the checkpoint, then add the model to the room. */
export async function publishModel(s3: S3Client, bucket: string, roomId: string, id: string): Promise<ManifestWrite> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: modelKey(roomId, id), Body: Buffer.from(checkpointBody(id)) }));
  return addModel(s3, bucket, roomId, makeModel(roomId, id));
}
