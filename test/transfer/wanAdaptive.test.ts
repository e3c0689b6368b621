import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../src/core/s3client.js';
import { BackendClient } from '../../src/core/transfer/BackendClient.js';
import { downloadFile } from '../../src/core/transfer/Downloader.js';
import { PresignedRangeSource } from '../../src/core/transfer/RangeSource.js';
import { prepareUpload } from '../../src/core/transfer/uploadFile.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { forEachS3Target, type S3Target } from '../support/targets.js';
import { startWan, type WanLink } from '../support/wan/wanLink.js';
import { MiB, randomFile, sdkSha256, sha256OfFile } from './support/env.js';

// Adaptive concurrency ('auto', the default) through the emulated WAN: 40 ms RTT, 4 MiB/s per
// connection, 64 MiB/s for the link, in front of S3 and of the backend. Structural claims only
// (the transfer is right, and the limit rose above its start of 2 while the link let more
// parts move); how fast it gets there is measured by `npm run bench -- wan`.
forEachS3Target((factory) => {
  describe(`adaptive concurrency through the emulated WAN against ${factory.name}`, () => {
    let target: S3Target;
    let wan: WanLink;
    let srv: ServerProcess;
    let backend: BackendClient;
    let s3: S3Client;
    let dir: string;
    before(async () => {
      target = await factory.start();
      wan = startWan({ rttMs: 40, perConnectionBps: 4 * MiB, aggregateBps: 64 * MiB });
      const s3Wan = await wan.forward(target.endpoint);
      srv = await startServerProcess(target, ['--s3-public-endpoint', s3Wan.url]);
      backend = new BackendClient({ baseUrl: (await wan.forward(srv.url)).url, token: srv.rooms.lab });
      s3 = makeS3Client({ endpoint: target.endpoint, region: target.region, accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey, forcePathStyle: true });
      dir = await mkdtemp(join(tmpdir(), 'wan-'));
    });
    after(async () => {
      s3?.destroy();
      await srv?.stop();
      await wan?.close();
      await target?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('an upload and a download with the default (auto) concurrency are right, and their limit rose above 2', async () => {
      const f = await randomFile(dir, 'wan.bin', 60 * MiB);
      const seen: number[] = [];
      const p = await prepareUpload({ path: f.path, target: { kind: 'presigned', backend }, partSize: 5 * MiB, onProgress: (e) => seen.push(e.concurrency ?? 0) });
      const r = await p.uploader.start();
      const history = p.uploader.concurrencyHistory ?? [];
      p.close();
      assert.equal((await sdkSha256(s3, srv.bucket, r.key)).sha256, f.sha256, 'the object read back directly from S3 is the file');
      assert.equal(seen[0], 2, 'progress says how many parts were in flight: 2 at the start');
      assert.ok(Math.max(...history.map((h) => h.limit)) > 2, `the limit grew: ${JSON.stringify(history)}`);
      assert.ok(Math.max(...seen) > 2, `progress showed it: ${seen.join(',')}`);
      assert.ok(wan.stats.peakOpen > 3, `more than 2 part connections (and the backend's) were open at once: ${wan.stats.peakOpen}`);

      const dest = join(dir, 'back.bin');
      const ranges: number[] = [];
      const d = await downloadFile({ source: new PresignedRangeSource(backend, r.s3Path), dest, chunkSize: 4 * MiB, onProgress: (e) => ranges.push(e.concurrency ?? 0) });
      assert.equal(d.sha256, f.sha256);
      assert.equal(await sha256OfFile(dest), f.sha256);
      assert.ok(Math.max(...ranges) > 2, `ranges in flight grew past 2: ${ranges.join(',')}`);
    });
  });
});
