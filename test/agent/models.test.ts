// A hostile room manifest: anyone with the bucket's keys (every worker has them) can write
// rooms/<room>/manifest.json. Its model ids and file names become paths under the folder a
// download is asked for; here one is written straight into a real embedded store, and the real
// agent (its own process, reading the manifest by a presigned GET through the real server) and
// core's manifest code (what the worker uses) must refuse it and write nothing anywhere.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isAppError } from '../../src/core/errors.js';
import { addModel, readManifest } from '../../src/core/manifest/index.js';
import { makeS3Client } from '../../src/core/s3client.js';
import type { ManifestModel } from '../../src/core/schemas/manifest.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { startAgentProcess, type AgentProcess } from './support/env.js';

const PAYLOAD = Buffer.from('written by a hostile manifest\n');

function model(id: string, files: Array<{ name: string; size_bytes: number }>): ManifestModel {
  return {
    id,
    alias: null,
    model_type: 'builtin',
    trained_at: '2026-11-24T00:00:00.000Z',
    s3_path: 's3://BUCKET/rooms/lab/models/good-1/',
    size_bytes: PAYLOAD.length,
    notes: '',
    tags: [],
    files,
    training: { dataset_hash: 'sha256:0', epochs: 1, final_loss: null, training_duration_sec: 1 },
  };
}

describe('a hostile room manifest (store, server and agent as processes)', () => {
  let store: EmbeddedStoreTarget;
  let server: ServerProcess;
  let agent: AgentProcess;
  let s3: S3Client;
  let dir: string;

  /** Writes `manifest` as the room's manifest.json, as any holder of the bucket's keys can. */
  const writeManifest = async (models: Record<string, ManifestModel>, aliases: Record<string, string> = {}): Promise<void> => {
    const fixed = Object.fromEntries(Object.entries(models).map(([k, m]) => [k, { ...m, s3_path: m.s3_path.replace('BUCKET', server.bucket) }]));
    const body = JSON.stringify({ version: 7, room_id: 'lab', updated_at: new Date().toISOString(), models: fixed, aliases });
    await s3.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'rooms/lab/manifest.json', Body: body, ContentType: 'application/json' }));
  };

  /** Every file and folder under `root`, relative, sorted. */
  const tree = async (root: string): Promise<string[]> => ((await readdir(root, { recursive: true }).catch(() => [])) as string[]).sort();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agent-models-'));
    store = await startEmbeddedStore();
    server = await startServerProcess(store);
    agent = await startAgentProcess({ SLEAP_RTC_SERVER: server.url, SLEAP_RTC_ROOM_TOKEN: server.rooms.lab, SLEAP_RTC_ROOM: 'lab', SLEAP_RTC_DATA: undefined, SLEAP_RTC_CONFIG: undefined }, join(dir, 'agent-data'));
    s3 = makeS3Client(store);
    // The model's one file, where a real worker would have put it.
    await s3.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'rooms/lab/models/good-1/weights.bin', Body: PAYLOAD }));
  });

  after(async () => {
    await agent?.proc.stop();
    await server?.stop();
    s3?.destroy();
    await store?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a well-formed manifest: listed and downloaded into <dest>/<model id>/ (the setup works)', async () => {
    await writeManifest({ 'good-1': model('good-1', [{ name: 'weights.bin', size_bytes: PAYLOAD.length }]) }, { best: 'good-1' });
    const list = await agent.api('/api/models');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(list.body.models.map((m: ManifestModel) => m.id), ['good-1']);
    const dest = join(dir, 'ok', 'models');
    const dl = await agent.api('/api/models/best/download', { body: { dest } });
    assert.equal(dl.status, 200, JSON.stringify(dl.body));
    assert.equal(dl.body.dest, join(dest, 'good-1'));
    assert.deepEqual(await readFile(join(dest, 'good-1', 'weights.bin')), PAYLOAD);
    assert.equal(dl.body.files[0].sha256, createHash('sha256').update(PAYLOAD).digest('hex'));
  });

  // Each: the manifest's models and aliases, what the download names, and the message's clue.
  const hostile: Array<{ what: string; models: Record<string, ManifestModel>; aliases?: Record<string, string>; ask: string; clue: RegExp }> = [
    { what: 'a model id "../escaped" reached by an alias', models: { 'good-1': model('../escaped', [{ name: 'weights.bin', size_bytes: PAYLOAD.length }]) }, aliases: { best: 'good-1' }, ask: 'best', clue: /models\.good-1\.id/ },
    { what: 'a model id "../../escaped" as its own key', models: { '../../escaped': model('../../escaped', [{ name: 'weights.bin', size_bytes: PAYLOAD.length }]) }, aliases: { best: '../../escaped' }, ask: 'best', clue: /models/ },
    { what: 'a model id ".."', models: { 'good-1': model('..', [{ name: 'weights.bin', size_bytes: PAYLOAD.length }]) }, aliases: { best: 'good-1' }, ask: 'best', clue: /models\.good-1\.id/ },
    { what: 'an absolute model id', models: { 'good-1': model('/tmp/escaped', [{ name: 'weights.bin', size_bytes: PAYLOAD.length }]) }, aliases: { best: 'good-1' }, ask: 'best', clue: /models\.good-1\.id/ },
    { what: 'a model id with backslashes', models: { 'good-1': model('..\\..\\escaped', [{ name: 'weights.bin', size_bytes: PAYLOAD.length }]) }, aliases: { best: 'good-1' }, ask: 'best', clue: /models\.good-1\.id/ },
    { what: 'a file name "../../escaped.bin"', models: { 'good-1': model('good-1', [{ name: '../../escaped.bin', size_bytes: PAYLOAD.length }]) }, ask: 'good-1', clue: /models\.good-1\.files\.0\.name/ },
    { what: 'an absolute file name', models: { 'good-1': model('good-1', [{ name: '/tmp/escaped.bin', size_bytes: 0 }]) }, ask: 'good-1', clue: /models\.good-1\.files\.0\.name/ },
    { what: 'a file name with backslashes', models: { 'good-1': model('good-1', [{ name: '..\\..\\escaped.bin', size_bytes: 0 }]) }, ask: 'good-1', clue: /models\.good-1\.files\.0\.name/ },
  ];

  for (const h of hostile) {
    test(`${h.what}: the agent refuses the manifest (listing and download), core's reader refuses it, nothing is written`, async () => {
      await writeManifest(h.models, h.aliases);
      const root = join(dir, 'hostile', String(hostile.indexOf(h)));
      const dest = join(root, 'a', 'b', 'models');
      await mkdir(dest, { recursive: true });

      const dl = await agent.api(`/api/models/${encodeURIComponent(h.ask)}/download`, { body: { dest } });
      assert.equal(dl.status, 502, JSON.stringify(dl.body));
      assert.equal(dl.body.error.code, 'upstream_error');
      assert.match(dl.body.error.message, /the room's manifest \(rooms\/lab\/manifest\.json\) is not valid/);
      assert.match(dl.body.error.message, h.clue);
      assert.match(dl.body.error.message, /repair or remove/);
      assert.deepEqual(await tree(root), ['a', join('a', 'b'), join('a', 'b', 'models')], 'nothing written, inside the folder or out of it');
      assert.equal(existsSync('/tmp/escaped') || existsSync('/tmp/escaped.bin'), false, 'nothing written at an absolute path');

      const list = await agent.api('/api/models');
      assert.equal(list.status, 502, JSON.stringify(list.body));
      assert.equal(list.body.error.code, 'upstream_error');

      // What the worker reads and writes the manifest with: refused on read, as corrupt.
      await assert.rejects(readManifest(s3, server.bucket, 'lab'), (e: unknown) => isAppError(e, 'storage_error') && /is corrupt .*does not match the manifest schema/.test(e.message));
    });
  }

  test('core\'s writer refuses hostile ids and file names: nothing is written', async () => {
    await writeManifest({ 'good-1': model('good-1', [{ name: 'weights.bin', size_bytes: PAYLOAD.length }]) });
    const before = await readManifest(s3, server.bucket, 'lab');
    for (const bad of [model('../escaped', []), model('..', []), model('a/b', []), model('good-2', [{ name: '../x', size_bytes: 1 }]), model('good-2', [{ name: 'a//b', size_bytes: 1 }])]) {
      await assert.rejects(addModel(s3, server.bucket, 'lab', bad), (e: unknown) => isAppError(e, 'bad_request'), JSON.stringify(bad.id));
    }
    const now = await readManifest(s3, server.bucket, 'lab');
    assert.equal(now.etag, before.etag, 'the manifest was not rewritten');
  });
});
