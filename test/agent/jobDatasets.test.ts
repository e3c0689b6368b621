// A job's dataset (src/agent/jobs/JobDatasets.ts) with the real parts it uses: the embedded store,
// `sleap-rtc server` (request-download, the upload backend) and the agent's UploadManager on its
// own ledger, in this process.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { JobDatasets } from '../../src/agent/jobs/JobDatasets.js';
import { Ledger } from '../../src/agent/Ledger.js';
import { UploadManager } from '../../src/agent/UploadManager.js';
import { isAppError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { makeS3Client } from '../../src/core/s3client.js';
import { BackendClient, sha256File } from '../../src/core/transfer/index.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';

describe('JobDatasets (store, server, UploadManager)', () => {
  let store: EmbeddedStoreTarget;
  let server: ServerProcess;
  let dir: string;
  let ledger: Ledger;
  let uploads: UploadManager;
  let s3: S3Client;
  let datasets: JobDatasets;
  let labels: string;
  /** The dataset reference of the first upload of `labels` (the later tests use its object). */
  let uploadedRef: { type: 's3'; path: string; size_bytes: number; checksum: string };

  before(async () => {
    store = await startEmbeddedStore();
    server = await startServerProcess(store);
    dir = await mkdtemp(join(tmpdir(), 'job-datasets-'));
    ledger = await Ledger.open(join(dir, 'ledger.json'));
    const backend = new BackendClient({ baseUrl: server.url, token: server.rooms.lab });
    uploads = new UploadManager({ ledger, backend, manifestDir: join(dir, 'manifests'), concurrency: 2, partSize: 5 * 1024 * 1024, log: silentLogger });
    datasets = new JobDatasets(uploads, backend);
    s3 = makeS3Client(store);
    labels = join(dir, 'labels.pkg.slp');
    await writeSyntheticSlp(labels, { frames: 4, instancesPerFrame: 1, nodes: 3, embedded: true });
  });

  after(async () => {
    await uploads?.close();
    await ledger?.close();
    s3?.destroy();
    await server?.stop();
    await store?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a local path that does not exist: not_found, saying what to give', async () => {
    await assert.rejects(datasets.resolve(join(dir, 'nope.slp')), (e: unknown) => isAppError(e, 'not_found') && /^dataset .*nope\.slp does not exist \(ENOENT\): give the path of a \.slp or \.pkg\.slp file$/.test(e.message));
  });

  test('a folder: bad_request (a job trains on one labels file)', async () => {
    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    await assert.rejects(datasets.resolve(folder), (e: unknown) => isAppError(e, 'bad_request') && /is a folder: a job trains on one labels file/.test(e.message));
  });

  test('a .slp whose video is only referenced by path: refused for sleap-nn (it trains on images) before any upload; builtin and command take it', async () => {
    const external = join(dir, 'external.slp');
    await writeSyntheticSlp(external, { frames: 4, instancesPerFrame: 1, nodes: 3, videoFilename: '/lab/videos/session1.mp4' });
    const count = ledger.uploads().length;
    await assert.rejects(
      datasets.resolve(external, 'sleap-nn'),
      (e: unknown) => isAppError(e, 'bad_request') && e.message.startsWith(`dataset ${external}: the sleap-nn trainer trains on images, but this video is not embedded`) && e.message.includes('/lab/videos/session1.mp4 (of external.slp)') && /nothing was uploaded\. Export a \.pkg\.slp/.test(e.message),
    );
    assert.equal(ledger.uploads().length, count, 'no upload was made');
    for (const trainer of ['builtin', 'command']) {
      const ok = await datasets.resolve(external, trainer);
      assert.ok(ok.uploadId, `${trainer}: an upload was made`);
      await uploads.remove(ok.uploadId);
    }
  });

  test('a new local file: an upload is made (a relative path made absolute); uploaded() runs it and gives the object with its SHA-256', async () => {
    const rel = join(dir, 'a-folder', '..', 'labels.pkg.slp');
    const first = await datasets.resolve(rel);
    assert.equal(first.dataset, labels, 'the path is resolved');
    assert.ok(first.uploadId, 'an upload was made');
    assert.equal(first.datasetRef, undefined, 'not known before the upload ran');
    const ref = await datasets.uploaded({ id: 'job-1', dataset: first.dataset, uploadId: first.uploadId });
    const { sha256, size } = await sha256File(labels);
    assert.equal(ref.type, 's3');
    assert.match(ref.path, new RegExp(`^s3://${server.bucket}/rooms/lab/datasets/.+labels\\.pkg\\.slp$`));
    assert.equal(ref.size_bytes, size);
    assert.equal(ref.checksum, `sha256:${sha256}`);
    uploadedRef = ref;
  });

  test('the same file unchanged: its finished upload is reused (same upload, same object), nothing is uploaded again', async () => {
    assert.ok(uploadedRef, 'the test before uploaded it');
    const count = ledger.uploads().length;
    const again = await datasets.resolve(labels);
    assert.deepEqual(again, { dataset: labels, uploadId: ledger.uploads()[0].id, datasetRef: uploadedRef });
    assert.equal(ledger.uploads().length, count, 'no new upload');
  });

  test('the file changed since (its mtime): a new upload', async () => {
    const later = new Date(Date.now() + 60_000);
    await utimes(labels, later, later);
    const changed = await datasets.resolve(labels);
    assert.ok(changed.uploadId && changed.uploadId !== ledger.uploads()[0].id, 'a new upload');
    assert.equal(changed.datasetRef, undefined);
    await uploads.launch(changed.uploadId);
  });

  test('an s3:// object of the room with its SHA-256 (uploaded through an agent): taken as it is', async () => {
    assert.ok(uploadedRef);
    assert.deepEqual(await datasets.resolve(uploadedRef.path), { dataset: uploadedRef.path, datasetRef: uploadedRef });
  });

  test('an s3:// object without a SHA-256 in its metadata: bad_request (the worker could not verify it)', async () => {
    const key = 'rooms/lab/datasets/raw/labels.slp';
    await s3.send(new PutObjectCommand({ Bucket: server.bucket, Key: key, Body: Buffer.from('not checked') }));
    await assert.rejects(datasets.resolve(`s3://${server.bucket}/${key}`), (e: unknown) => isAppError(e, 'bad_request') && /has no SHA-256 in its metadata, so the worker could not verify it: upload it through the agent \(POST \/api\/uploads\)/.test(e.message));
  });

  test('an s3:// object that is not there: not_found; one of another room: refused', async () => {
    await assert.rejects(datasets.resolve(`s3://${server.bucket}/rooms/lab/datasets/none.slp`), (e: unknown) => isAppError(e, 'not_found') && e.message.startsWith(`dataset s3://${server.bucket}/rooms/lab/datasets/none.slp: `));
    await assert.rejects(datasets.resolve(`s3://${server.bucket}/rooms/other/datasets/x.slp`), (e: unknown) => isAppError(e, 'forbidden') && e.message.startsWith('dataset s3://'));
  });

  test('uploaded() of a job with no upload: internal (a record that cannot be)', async () => {
    await assert.rejects(datasets.uploaded({ id: 'job-x', dataset: 's3://b/k' }), (e: unknown) => isAppError(e, 'internal') && /job job-x has neither a dataset reference nor an upload/.test(e.message));
  });
});
