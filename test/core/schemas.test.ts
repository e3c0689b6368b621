import assert from 'node:assert/strict';
import { test } from 'node:test';
import { completeUploadBody, requestUploadBody } from '../../src/core/schemas/backend.js';
import { dataChannelMessage, progressEvent } from '../../src/core/schemas/datachannel.js';
import { jobPeerPayload } from '../../src/core/schemas/jobs.js';
import { roomManifest } from '../../src/core/schemas/manifest.js';
import { signalingClientMessage } from '../../src/core/schemas/signaling.js';

test('request-upload: file names with slashes or dot segments are refused, sizes must be whole', () => {
  assert.ok(requestUploadBody.safeParse({ file_name: 'labels.pkg.slp', file_size: 10 }).success);
  for (const file_name of ['../x.slp', 'a/b.slp', '..', 'a\u0000b']) assert.equal(requestUploadBody.safeParse({ file_name, file_size: 1 }).success, false, file_name);
  assert.equal(requestUploadBody.safeParse({ file_name: 'a.slp', file_size: 1.5 }).success, false);
  assert.equal(requestUploadBody.safeParse({ file_name: 'a.slp', file_size: 1, relative_path: 'a/../b' }).success, false);
  assert.equal(requestUploadBody.safeParse({ file_name: 'a.slp', file_size: 1, part_size: 1024 }).success, false);
});

test('complete-upload needs at least one part with a number in 1..10000', () => {
  assert.equal(completeUploadBody.safeParse({ key: 'k', upload_id: 'u', parts: [] }).success, false);
  assert.equal(completeUploadBody.safeParse({ key: 'k', upload_id: 'u', parts: [{ part_number: 0, etag: '"x"' }] }).success, false);
  assert.ok(completeUploadBody.safeParse({ key: 'k', upload_id: 'u', parts: [{ part_number: 1, etag: '"x"' }] }).success);
});

test('signaling messages follow sleap-rtc shapes and reject unknown types', () => {
  const reg = signalingClientMessage.parse({ type: 'register', peer_id: 'w1', role: 'worker', room_id: 'lab', token: 't', metadata: { tags: ['gpu'], properties: { gpu_memory_mb: 24000, status: 'available' } } });
  assert.equal(reg.type, 'register');
  assert.ok(signalingClientMessage.safeParse({ type: 'discover_peers', filters: { role: 'worker', tags: ['gpu'], properties: { gpu_memory_mb: { $gte: 8000 }, status: 'available' } } }).success);
  assert.equal(signalingClientMessage.safeParse({ type: 'discover_peers', filters: { properties: { x: { $regex: '.*' } } } }).success, false);
  assert.equal(signalingClientMessage.safeParse({ type: 'shutdown' }).success, false);
  assert.ok(signalingClientMessage.safeParse({ type: 'peer_message', from_peer_id: 'a', to_peer_id: 'b', payload: { app_message_type: 'job_request', extra: 1 } }).success);
});

test('job_request carries an s3 dataset with a sha256 checksum', () => {
  const ok = { app_message_type: 'job_request', job_id: 'j1', room_id: 'lab', dataset: { type: 's3', path: 's3://b/rooms/lab/datasets/x/a.slp', size_bytes: 10, checksum: 'sha256:' + 'a'.repeat(64) }, config: { trainer_config: { max_epochs: 3 } } };
  const parsed = jobPeerPayload.parse(ok);
  assert.equal(parsed.app_message_type, 'job_request');
  assert.equal(jobPeerPayload.safeParse({ ...ok, dataset: { ...ok.dataset, path: '/local/file' } }).success, false);
  assert.equal(jobPeerPayload.safeParse({ ...ok, config: { trainer_config: { max_epochs: 0 } } }).success, false);
});

test('progress events use sleap-nn vocabulary and pass extra fields through', () => {
  const e = progressEvent.parse({ event: 'batch_end', epoch: 1, batch: 7, logs: { 'train/loss': 0.5 }, what: 'x' });
  assert.deepEqual(e, { event: 'batch_end', epoch: 1, batch: 7, logs: { 'train/loss': 0.5 }, what: 'x' });
  assert.equal(progressEvent.safeParse({ event: 'batch_end', epoch: 1, logs: {} }).success, false);
  assert.ok(dataChannelMessage.safeParse({ type: 'command', job_id: 'j', command_id: 'c1', command: 'pause' }).success);
  assert.equal(dataChannelMessage.safeParse({ type: 'command', job_id: 'j', command_id: 'c1', command: 'reboot' }).success, false);
  assert.equal(dataChannelMessage.safeParse({ type: 'file_begin', transfer_id: 't', name: 'c.yaml', size: 200_000_000, kind: 'config' }).success, false);
});

test('the room manifest schema accepts the documented shape', () => {
  const m = roomManifest.parse({
    version: 1,
    room_id: 'lab',
    updated_at: '2026-01-01T00:00:00Z',
    models: { a3f5e8c9: { id: 'a3f5e8c9', model_type: 'single_instance', trained_at: '2026-01-01T00:00:00Z', s3_path: 's3://b/rooms/lab/models/a3f5e8c9/', size_bytes: 10, training: { dataset_hash: 'sha256:x', epochs: 3, final_loss: 0.1, training_duration_sec: 5 } } },
  });
  assert.deepEqual(m.aliases, {});
  assert.equal(m.models.a3f5e8c9.notes, '');
});
