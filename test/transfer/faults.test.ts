import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError } from '../../src/core/errors.js';
import { partRange } from '../../src/core/parts.js';
import { BackendClient } from '../../src/core/transfer/BackendClient.js';
import type { DonePart, UploadSession } from '../../src/core/transfer/PartTransport.js';
import type { PresignedTransport } from '../../src/core/transfer/PresignedTransport.js';
import type { TransferProgress } from '../../src/core/transfer/progress.js';
import { prepareUpload, uploadFile } from '../../src/core/transfer/uploadFile.js';
import type { RequestUploadResponse, UploadUrlsResponse } from '../../src/core/schemas/backend.js';
import { repoRoot } from '../support/proc.js';
import { forEachS3Target } from '../support/targets.js';
import { memoryLogger, MiB, randomFile, sdkSha256, startTransferEnv, type TransferEnv } from './support/env.js';
import { holdsFor, waitFor } from '../support/wait.js';

const PART = 8 * MiB;
const putBytes = (env: TransferEnv): number => env.proxy.requestBytes('PUT');

forEachS3Target((factory) => {
  describe(`uploads under faults against ${factory.name} (fault proxy in front of S3)`, () => {
    let env: TransferEnv;
    before(async () => {
      env = await startTransferEnv(factory);
    });
    after(async () => env?.stop());
    afterEach(() => {
      env.proxy.clearRules();
      env.proxy.setRate(undefined);
      env.proxy.resetStats();
    });

    test('a reset mid-body, a stalled part, three 503 SlowDown and one 500: the upload completes, resends stay bounded', async () => {
      const f = await randomFile(env.dir, 'faults.bin', 64 * MiB);
      env.proxy.add({ method: 'PUT', partNumber: 1, action: { kind: 'reset', afterBytes: 1 * MiB } });
      env.proxy.add({ method: 'PUT', partNumber: 2, action: { kind: 'stall', afterBytes: 2 * MiB } });
      env.proxy.add({ method: 'PUT', action: { kind: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' }, times: 3 });
      env.proxy.add({ method: 'PUT', action: { kind: 'status', status: 500, code: 'InternalError', message: 'We encountered an internal error.' } });
      const { log, lines } = memoryLogger();
      const r = await uploadFile({ path: f.path, target: { kind: 'presigned', backend: env.backend }, concurrency: 4, stallTimeoutMs: 1000, retry: { baseDelayMs: 50 }, log });

      assert.equal((await sdkSha256(env.s3, env.srv.bucket, r.key)).sha256, f.sha256);
      assert.equal(r.retries.slow_down, 3);
      assert.equal(r.retries.retry, 3, 'reset, stall and 500 each retried once');
      const retried = lines.filter((l) => l.msg === 'part retried').map((l) => String(l.error));
      assert.ok(retried.some((m) => /no bytes moved for 1\.0 s/.test(m)), `stall detection fired: ${retried.join(' | ')}`);
      assert.ok(retried.some((m) => /network failure/.test(m)), 'the reset surfaced as a network failure');
      // Each of the 6 faults costs at most one part of resent bytes.
      const sent = putBytes(env);
      assert.ok(sent >= f.size && sent <= f.size + 6 * PART, `PUT bytes through the proxy: ${(sent / MiB).toFixed(1)} MiB for a ${f.size / MiB} MiB file`);
    });

    test('S3 says a presigned URL expired (403 "Request has expired"): the part\'s URL is re-signed by the backend and the part retried', async () => {
      const f = await randomFile(env.dir, 'expired.bin', 24 * MiB);
      env.proxy.add({ method: 'PUT', partNumber: 3, action: { kind: 'status', status: 403, code: 'AccessDenied', message: 'Request has expired' } });
      const p = await prepareUpload({ path: f.path, target: { kind: 'presigned', backend: env.backend }, concurrency: 4 });
      try {
        const fetchesBefore = (p.transport as PresignedTransport).urlFetches;
        const r = await p.uploader.start();
        assert.equal(r.retries.refresh_url, 1);
        assert.equal((p.transport as PresignedTransport).urlFetches, fetchesBefore + 1, 'one /api/upload-urls call for the re-sign');
        assert.deepEqual(env.proxy.requests.filter((q) => q.partNumber === 3).map((q) => q.status), [403, 200]);
        assert.equal((await sdkSha256(env.s3, env.srv.bucket, r.key)).sha256, f.sha256);
      } finally {
        p.close();
      }
    });

    test('a URL that really expires at the server while the request is on its way is recognised and re-signed', async () => {
      // The server's shortest URL lifetime is 60 s; to keep the test short, URLs come from a backend
      // client that signs 2-second URLs itself (same key, upload id and endpoint as the server's).
      const env_ = env;
      class ShortLivedUrls extends BackendClient {
        override async requestUpload(...a: Parameters<BackendClient['requestUpload']>): Promise<RequestUploadResponse> {
          return { ...(await super.requestUpload(...a)), urls: [] };
        }
        override async uploadUrls(key: string, uploadId: string, parts: number[]): Promise<UploadUrlsResponse> {
          const urls = await Promise.all(parts.map(async (n) => ({ part_number: n, url: await getSignedUrl(env_.s3ViaProxy, new UploadPartCommand({ Bucket: env_.srv.bucket, Key: key, UploadId: uploadId, PartNumber: n }), { expiresIn: 2 }) })));
          return { urls, expires_at: new Date(Date.now() + 2000).toISOString() };
        }
      }
      const f = await randomFile(env.dir, 'slow-path.bin', 10 * MiB);
      env.proxy.add({ method: 'PUT', partNumber: 1, action: { kind: 'delay', ms: 3000 } });
      const r = await uploadFile({ path: f.path, target: { kind: 'presigned', backend: new ShortLivedUrls({ baseUrl: env.srv.url, token: env.srv.rooms.lab }) }, partSize: 5 * MiB, concurrency: 2 });
      assert.deepEqual(env.proxy.requests.filter((q) => q.partNumber === 1).map((q) => q.status), [403, 200], 'the server refused the expired URL, the re-signed one went through');
      assert.equal(r.retries.refresh_url, 1);
      assert.equal((await sdkSha256(env.s3, env.srv.bucket, r.key)).sha256, f.sha256);
    });

    test('pause mid-upload: nothing moves for 2 s; resume: the upload completes', async () => {
      const f = await randomFile(env.dir, 'pause.bin', 48 * MiB);
      env.proxy.setRate(24 * MiB);
      const events: TransferProgress[] = [];
      const p = await prepareUpload({ path: f.path, target: { kind: 'presigned', backend: env.backend }, concurrency: 4, onProgress: (e) => void events.push(e) });
      try {
        const run = p.uploader.start();
        await waitFor(() => p.uploader.progress.bytesDone >= 10 * MiB, '10 MiB sent', 20_000, { intervalMs: 10 });
        p.uploader.pause();
        await waitFor(() => p.uploader.state === 'paused', 'paused', 5000, { intervalMs: 10 });
        const sentAtPause = p.uploader.bytesSent;
        // Bytes the aborted requests had already handed to the kernel still drain into the proxy
        // (through its rate limit); wait until no PUT body is still arriving before watching.
        const openPuts = () => env.proxy.requests.filter((r) => r.method === 'PUT' && r.open);
        await waitFor(() => openPuts().length === 0, 'the aborted parts to drain into the proxy', 30_000, { lastSeen: () => `open PUTs: ${JSON.stringify(openPuts())}` });
        const bytesAtPause = putBytes(env);
        const doneAtPause = p.uploader.progress.bytesDone;
        const eventsAtPause = events.length;
        const seen = () => `proxy ${putBytes(env)} (at pause ${bytesAtPause}), sent ${p.uploader.bytesSent} (${sentAtPause}), done ${p.uploader.progress.bytesDone} (${doneAtPause}), events ${events.length} (${eventsAtPause})`;
        await holdsFor(() => putBytes(env) === bytesAtPause && p.uploader.bytesSent === sentAtPause && p.uploader.progress.bytesDone === doneAtPause && events.length === eventsAtPause, 'nothing moves while paused (proxy bytes, bytes handed to sockets, progress, events)', 2000, { lastSeen: seen });
        assert.ok(doneAtPause < f.size, 'paused before the end');
        env.proxy.setRate(undefined);
        p.uploader.resume();
        const r = await run;
        assert.equal((await sdkSha256(env.s3, env.srv.bucket, r.key)).sha256, f.sha256);
        assert.equal(events.at(-1)!.bytesDone, f.size);
        assert.ok(events.some((e) => e.rateBps > 0 && e.etaS !== null));
      } finally {
        p.close();
      }
    });

    test('cancel mid-upload: parts stop, the multipart upload is aborted (upload-status 404)', async () => {
      const f = await randomFile(env.dir, 'cancel.bin', 48 * MiB);
      env.proxy.setRate(24 * MiB);
      const p = await prepareUpload({ path: f.path, target: { kind: 'presigned', backend: env.backend }, concurrency: 4 });
      try {
        const run = p.uploader.start();
        await waitFor(() => p.uploader.doneParts.length >= 1, 'one part done', 20_000, { intervalMs: 10 });
        await p.uploader.cancel();
        await assert.rejects(run, (e: AppError) => e.code === 'aborted');
        assert.equal(p.uploader.state, 'cancelled');
        const st = await env.srv.api(`/api/upload-status?key=${encodeURIComponent(p.session.key)}&upload_id=${encodeURIComponent(p.session.uploadId)}`);
        assert.equal(st.status, 404, JSON.stringify(st.body));
      } finally {
        p.close();
      }
    });

    test('crash (SIGKILL of the uploading process) then resume from its ledger: only the missing parts are sent', async () => {
      const f = await randomFile(env.dir, 'crash.bin', 64 * MiB);
      const ledger = join(env.dir, 'ledger.jsonl');
      env.proxy.setRate(32 * MiB);
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/transfer/support/uploadChild.ts', JSON.stringify({ serverUrl: env.srv.url, token: env.srv.rooms.lab, path: f.path, ledger, concurrency: 4 })], { cwd: repoRoot, stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, sig) => resolve(sig)));
      const recorded = (): DonePart[] => (existsSync(ledger) ? readFileSync(ledger, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as DonePart) : []);
      await waitFor(() => recorded().length >= 3, 'the child recorded 3 parts', 60_000, { intervalMs: 10 });
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');

      const { session, sha256 } = JSON.parse(readFileSync(`${ledger}.session.json`, 'utf8')) as { session: UploadSession; sha256: string };
      const doneParts = recorded();
      assert.ok(doneParts.length < session.partCount, 'killed before the end');
      env.proxy.setRate(undefined);
      env.proxy.resetStats();
      const r = await uploadFile({ path: f.path, target: { kind: 'presigned', backend: env.backend }, resume: { session, sha256, doneParts }, concurrency: 4 });

      assert.ok(r.partsReused >= doneParts.length, `S3 had at least the ${doneParts.length} recorded parts (reused ${r.partsReused})`);
      assert.equal(r.partsReused + r.partsSent, session.partCount);
      const reused = new Set((await env.backend.uploadStatus(session.key, session.uploadId).catch(() => [])).map((p) => p.part_number));
      assert.equal(reused.size, 0, 'the upload is complete: no parts pending');
      let missingBytes = 0;
      const sentParts = new Set(env.proxy.requests.filter((q) => q.method === 'PUT').map((q) => q.partNumber!));
      for (const n of sentParts) {
        const { start, end } = partRange(n, f.size, session.partSize);
        missingBytes += end - start;
      }
      assert.equal(sentParts.size, r.partsSent);
      assert.ok(doneParts.every((d) => !sentParts.has(d.partNumber)), 'no recorded part was sent again');
      assert.equal(putBytes(env), missingBytes, 'exactly the missing parts crossed the network');
      assert.equal(r.bytesSent, missingBytes);
      assert.equal(r.sha256, f.sha256);
      assert.equal((await sdkSha256(env.s3, env.srv.bucket, r.key)).sha256, f.sha256);
    });
  });
});
