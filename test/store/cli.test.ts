import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GetObjectCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../src/core/s3client.js';
import { silentLogger } from '../../src/core/log.js';
import { startStore } from '../../src/store/main.js';
import { repoRoot, spawnCli } from '../support/proc.js';

/** Environment without any SLEAP_RTC_* a developer may have exported. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLEAP_RTC_')) env[k] = v;
  return { ...env, ...extra };
}

describe('sleap-rtc store (the command)', () => {
  test('--port 0 prints exactly "listening on http://127.0.0.1:<port>" on stdout, logs JSON on stderr, SIGINT exits 0', { timeout: 30_000 }, async () => {
    const data = await mkdtemp(join(tmpdir(), 'sleap-rtc-store-cli-'));
    try {
      const proc = await spawnCli(['store', '--port', '0', '--data', data, '--access-key', 'AKCLI', '--secret-key', 'cli-secret-1'], { waitFor: /^listening on http:\/\/127\.0\.0\.1:(\d+)\n/, env: cleanEnv() });
      let stdout = proc.line.input;
      let stderr = '';
      proc.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const port = Number(proc.line[1]);
      assert.ok(port > 0);
      const s3 = makeS3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId: 'AKCLI', secretAccessKey: 'cli-secret-1' });
      assert.ok(Array.isArray((await s3.send(new ListBucketsCommand({}))).Buckets));
      s3.destroy();
      assert.equal(await proc.stop('SIGINT'), 0);
      assert.equal(stdout, `listening on http://127.0.0.1:${port}\n`, 'stdout holds the one line only');
      for (const line of stderr.trim().split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), `not a JSON log line: ${line}`);
      assert.match(stderr, /"msg":"stopped"/);
      assert.doesNotMatch(stderr, /cli-secret-1/, 'the secret appears in the log');
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  test('settings from SLEAP_RTC_* and a --config file; --buckets creates buckets; the region is enforced', { timeout: 30_000 }, async () => {
    const data = await mkdtemp(join(tmpdir(), 'sleap-rtc-store-cfg-'));
    try {
      const file = join(data, 'store.json');
      await writeFile(file, JSON.stringify({ region: 'eu-west-1', buckets: ['from-file'], port: 0 }));
      const proc = await spawnCli(['store', '--config', file, '--buckets', 'one,two'], {
        waitFor: /listening on (http:\/\/\S+)/,
        env: cleanEnv({ SLEAP_RTC_ACCESS_KEY: 'AKENV', SLEAP_RTC_SECRET_KEY: 'env-secret-1', SLEAP_RTC_DATA: join(data, 'store') }),
      });
      try {
        const ep = { endpoint: proc.line[1], accessKeyId: 'AKENV', secretAccessKey: 'env-secret-1' };
        const s3 = makeS3Client({ ...ep, region: 'eu-west-1' }, { maxAttempts: 1 });
        const names = ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name);
        assert.deepEqual(names, ['one', 'two'], 'flags win over the config file');
        await s3.send(new PutObjectCommand({ Bucket: 'one', Key: 'k', Body: 'v' }));
        s3.destroy();
        const east = makeS3Client({ ...ep, region: 'us-east-1' }, { maxAttempts: 1 });
        await assert.rejects(east.send(new ListBucketsCommand({})), (e: Error) => e.name === 'AuthorizationHeaderMalformed');
        east.destroy();
        assert.deepEqual(await readdir(join(data, 'store', 'buckets')), ['one', 'two'], 'SLEAP_RTC_DATA without --data: <data>/store');
      } finally {
        await proc.stop();
      }
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  test('a missing access key or secret exits 2 naming the flag and the environment variable', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'store', '--port', '0', '--data', join(tmpdir(), 'never-created')], { cwd: repoRoot, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--access-key or SLEAP_RTC_ACCESS_KEY/);
    assert.match(r.stderr, /--secret-key or SLEAP_RTC_SECRET_KEY/);
  });

  test('startStore runs the store in process and close() releases the port', async () => {
    const data = await mkdtemp(join(tmpdir(), 'sleap-rtc-store-lib-'));
    try {
      const store = await startStore({ dataDir: data, accessKeyId: 'AKLIB', secretAccessKey: 'lib-secret', buckets: ['lib'], log: silentLogger });
      assert.equal(store.url, `http://127.0.0.1:${store.port}`);
      const s3 = makeS3Client({ endpoint: store.url, region: 'us-east-1', accessKeyId: 'AKLIB', secretAccessKey: 'lib-secret' }, { maxAttempts: 1 });
      const body = randomBytes(1000);
      await s3.send(new PutObjectCommand({ Bucket: 'lib', Key: 'k', Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'lib', Key: 'k' }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
      s3.destroy();
      await store.close();
      await assert.rejects(fetch(store.url), 'the port still answers after close()');
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });
});
