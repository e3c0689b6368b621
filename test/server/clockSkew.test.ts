import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../src/core/s3client.js';
import { BackendClient } from '../../src/core/transfer/BackendClient.js';
import { uploadFile } from '../../src/core/transfer/uploadFile.js';
import { clockOffEnv } from '../support/faketime.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { forEachS3Target, type S3Target } from '../support/targets.js';
import { MiB, randomFile, sdkSha256 } from '../transfer/support/env.js';

// The server's clock off by 10 minutes either way (libfaketime), and by 2 hours, where S3 refuses
// the server's own signed calls and every URL it would sign with its own time: uploads and
// downloads by presigned URL still work, and the URLs' expiry is said in S3's time.
forEachS3Target((factory) => {
  describe(`the server's clock off, against ${factory.name} (libfaketime)`, () => {
    let target: S3Target;
    let s3: S3Client;
    let dir: string;
    before(async () => {
      target = await factory.start();
      s3 = makeS3Client({ endpoint: target.endpoint, region: target.region, accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey });
      dir = await mkdtemp(join(tmpdir(), 'clock-skew-'));
    });
    after(async () => {
      s3?.destroy();
      await target?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    for (const offset of ['+10m', '-10m', '+2h', '-2h']) {
      test(`${offset}: a presigned upload and download work, and expires_at is in S3's time`, async () => {
        let srv: ServerProcess | undefined;
        try {
          srv = await startServerProcess(target, [], { built: true, env: clockOffEnv(offset) });
          const f = await randomFile(dir, `skew${offset}.bin`, 12 * MiB);
          const backend = new BackendClient({ baseUrl: srv.url, token: srv.rooms.lab });
          const r = await uploadFile({ path: f.path, target: { kind: 'presigned', backend }, partSize: 5 * MiB, concurrency: 2 });
          assert.equal((await sdkSha256(s3, srv.bucket, r.key)).sha256, f.sha256);

          const dl = await srv.api('/api/request-download', { body: { key: r.key } });
          assert.equal(dl.status, 200, JSON.stringify(dl.body));
          const expiresIn = Date.parse(dl.body.expires_at) - Date.now();
          assert.ok(Math.abs(expiresIn - 3600_000) <= 120_000, `expires_at ${dl.body.expires_at} is within the URL lifetime from now (${Math.round(expiresIn / 1000)} s), not shifted by ${offset}`);
          const got = await fetch(dl.body.url);
          assert.equal(got.status, 200, await got.clone().text());
          assert.equal(createHash('sha256').update(Buffer.from(await got.arrayBuffer())).digest('hex'), f.sha256);
          // +2h: this machine ahead of S3; -2h: behind it.
          if (offset.endsWith('h')) assert.match(srv.proc.stderrTail(), offset.startsWith('+') ? /clock is \d+ s ahead of the S3 server's/ : /clock is \d+ s behind the S3 server's/, 'the server says its clock is off, and which way');
        } finally {
          await srv?.stop();
        }
      });
    }
  });
});
