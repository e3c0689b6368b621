// The room manifest against every S3 target (embedded store and Ceph RGW): optimistic locking under
// real contention, from several processes, with the If-Match rule the module sends on the wire.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client, type S3ServiceException } from '@aws-sdk/client-s3';
import { isAppError } from '../../src/core/errors.js';
import { addModel, ifMatchValue, manifestKey, readManifest, updateManifest, type ManifestWrite } from '../../src/core/manifest/index.js';
import { repoRoot } from '../support/proc.js';
import { forEachS3Target, type S3Target } from '../support/targets.js';
import { checkpointBody, clientFor, makeModel, publishModel } from './helpers.js';

const WRITERS = 20;
const CHILD_PROCESSES = 2;
const WRITERS_PER_CHILD = 4;

function roomName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

async function getText(s3: S3Client, Bucket: string, Key: string): Promise<{ text: string; etag?: string }> {
  const r = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return { text: await r.Body!.transformToString('utf-8'), etag: r.ETag };
}

/** Records the conditional headers of every PutObject a client sends (as they go on the wire). */
function recordConditions(s3: S3Client): { ifMatch?: string; ifNoneMatch?: string }[] {
  const seen: { ifMatch?: string; ifNoneMatch?: string }[] = [];
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') {
        const h = (args.request as { headers: Record<string, string> }).headers;
        seen.push({ ifMatch: h['if-match'], ifNoneMatch: h['if-none-match'] });
      }
      return next(args);
    },
    { step: 'build', name: 'recordConditions', priority: 'low' },
  );
  return seen;
}

/** Runs `hook` once, before this client's first PutObject leaves. */
function beforeFirstPut(s3: S3Client, hook: () => Promise<void>): void {
  let done = false;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand' && !done) {
        done = true;
        await hook();
      }
      return next(args);
    },
    { step: 'initialize', name: 'beforeFirstPut' },
  );
}

interface ChildResult {
  id: string;
  attempts?: number;
  version?: number;
  error?: string;
  pid: number;
}

interface ChildWriter {
  go(): void;
  done: Promise<ChildResult[]>;
}

/** Starts a writer process and resolves once it is ready (its clients built, waiting for `go`). */
async function startChildWriter(target: S3Target, bucket: string, roomId: string, ids: string[]): Promise<ChildWriter> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/manifest/writer.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      MANIFEST_WRITER_JOB: JSON.stringify({ endpoint: target.endpoint, region: target.region, accessKeyId: target.accessKeyId, bucket, roomId, ids }),
      MANIFEST_WRITER_SECRET: target.secretAccessKey,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const lines: string[] = [];
  let onReady: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') onReady?.();
    else lines.push(line);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`writer process not ready in 30 s; stderr:\n${stderr}`)), 30_000);
    onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`writer process exited with ${code} before it was ready; stderr:\n${stderr}`));
    });
  });
  return {
    go: () => child.stdin!.end('go\n'),
    done: exited.then((code) => {
      if (code !== 0) throw new Error(`writer process exited with ${code}; stderr:\n${stderr}`);
      return lines.map((l) => JSON.parse(l) as ChildResult);
    }),
  };
}

forEachS3Target((factory) => {
  describe(`room manifest on ${factory.name}`, () => {
    let target: S3Target | undefined;
    let s3: S3Client | undefined;
    const bucket = `manifest-${randomBytes(4).toString('hex')}`;
    const ctx = (): { target: S3Target; s3: S3Client } => {
      if (!target || !s3) throw new Error(`${factory.name} did not start`);
      return { target, s3 };
    };

    before(async () => {
      target = await factory.start();
      s3 = clientFor(target);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    }, { timeout: 180_000 });

    after(async () => {
      s3?.destroy();
      await target?.stop();
    }, { timeout: 60_000 });

    test('the unquoted If-Match the module sends is honoured (and a stale one refused)', async () => {
      const { target, s3 } = ctx();
      const key = 'etag-rule/object.json';
      const v1 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v1' }));
      const v2 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v2', IfMatch: ifMatchValue(v1.ETag!) }));
      assert.equal(v2.$metadata.httpStatusCode, 200);
      await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v3', IfMatch: ifMatchValue(v1.ETag!) })), (e: S3ServiceException) => e.$metadata?.httpStatusCode === 412);
      if (!target.quirks.ifMatchUnquoted) {
        // Targets without RGW's quirk (the embedded store, like AWS) take the quoted form too.
        const v3 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v3', IfMatch: v2.ETag! }));
        assert.equal(v3.$metadata.httpStatusCode, 200);
      }
    });

    test(`${WRITERS} concurrent writers (${CHILD_PROCESSES} of them processes) each add a model: all ${WRITERS} land, version ${WRITERS}`, { timeout: 120_000 }, async (t) => {
      const { target, s3 } = ctx();
      const roomId = roomName('race');
      const ids = Array.from({ length: WRITERS }, (_, i) => `model-${String(i).padStart(2, '0')}`);
      const childIds = Array.from({ length: CHILD_PROCESSES }, (_, c) => ids.slice(c * WRITERS_PER_CHILD, (c + 1) * WRITERS_PER_CHILD));
      const localIds = ids.slice(CHILD_PROCESSES * WRITERS_PER_CHILD);
      const children = await Promise.all(childIds.map((part) => startChildWriter(target, bucket, roomId, part)));
      const clients = localIds.map(() => clientFor(target));
      try {
        for (const c of children) c.go();
        const local = await Promise.all(
          localIds.map(async (id, i): Promise<ChildResult> => {
            const w: ManifestWrite = await publishModel(clients[i], bucket, roomId, id);
            return { id, attempts: w.attempts, version: w.manifest.version, pid: process.pid };
          }),
        );
        const remote = (await Promise.all(children.map((c) => c.done))).flat();
        const all = [...local, ...remote];
        const failed = all.filter((r) => r.error !== undefined);
        assert.deepEqual(failed, [], 'every writer succeeds');
        assert.equal(new Set(remote.map((r) => r.pid)).size, CHILD_PROCESSES);
        assert.deepEqual(all.map((r) => r.id).sort(), ids);
        // Each successful write produced a distinct version: together exactly 1..WRITERS.
        assert.deepEqual(all.map((r) => r.version).sort((a, b) => a! - b!), ids.map((_, i) => i + 1));

        const { manifest, etag } = await readManifest(s3, bucket, roomId);
        assert.ok(etag);
        assert.equal(manifest.version, WRITERS);
        assert.deepEqual(Object.keys(manifest.models).sort(), ids);
        for (const id of ids) {
          assert.deepEqual(manifest.models[id], makeModel(roomId, id));
          assert.equal((await getText(s3, bucket, manifest.models[id].s3_path)).text, checkpointBody(id));
        }
        const retries = all.reduce((n, r) => n + (r.attempts! - 1), 0);
        const maxAttempts = Math.max(...all.map((r) => r.attempts!));
        t.diagnostic(`${target.name}: ${WRITERS} writers took ${retries} retries in all (most tries by one writer: ${maxAttempts})`);
        assert.ok(retries > 0, 'the writers really raced (at least one conflict was retried)');
      } finally {
        for (const c of clients) c.destroy();
      }
    });

    test('a stale writer (If-Match on an ETag someone replaced) gets 412, re-reads and retries', async () => {
      const { target, s3 } = ctx();
      const roomId = roomName('stale');
      const first = await addModel(s3, bucket, roomId, makeModel(roomId, 'base'));
      assert.equal(first.attempts, 1);
      const stale = clientFor(target);
      const other = clientFor(target);
      let interloper: ManifestWrite | undefined;
      beforeFirstPut(stale, async () => {
        interloper = await addModel(other, bucket, roomId, makeModel(roomId, 'interloper'));
      });
      const sent = recordConditions(stale);
      const retries: { reason: string; error: unknown }[] = [];
      try {
        const w = await addModel(stale, bucket, roomId, makeModel(roomId, 'late'), { onRetry: (i) => retries.push(i) });
        assert.equal(w.attempts, 2);
        assert.equal(retries.length, 1);
        assert.equal(retries[0].reason, 'conflict');
        assert.ok([409, 412].includes((retries[0].error as S3ServiceException).$metadata?.httpStatusCode ?? 0));
        // On the wire: the stale ETag, then the interloper's; both bare (no quotes).
        assert.deepEqual(sent, [{ ifMatch: ifMatchValue(first.etag), ifNoneMatch: undefined }, { ifMatch: ifMatchValue(interloper!.etag), ifNoneMatch: undefined }]);
        assert.ok(!sent[0].ifMatch!.includes('"'));
        const { manifest, etag } = await readManifest(s3, bucket, roomId);
        assert.equal(etag, w.etag);
        assert.equal(manifest.version, 3);
        assert.deepEqual(Object.keys(manifest.models).sort(), ['base', 'interloper', 'late']);
        assert.deepEqual(manifest, w.manifest);
      } finally {
        stale.destroy();
        other.destroy();
      }
    });

    test('two writers racing on an empty room: both If-None-Match: *, one retries with If-Match, both entries land', async () => {
      const { target, s3 } = ctx();
      const roomId = roomName('empty');
      const a = clientFor(target);
      const b = clientFor(target);
      // Both read the (missing) manifest before either writes: hold each first PutObject until both are there.
      let arrived = 0;
      let release!: () => void;
      const bothThere = new Promise<void>((resolve) => (release = resolve));
      const barrier = async (): Promise<void> => {
        if (++arrived === 2) release();
        await bothThere;
      };
      beforeFirstPut(a, barrier);
      beforeFirstPut(b, barrier);
      const sentA = recordConditions(a);
      const sentB = recordConditions(b);
      try {
        const [wa, wb] = await Promise.all([addModel(a, bucket, roomId, makeModel(roomId, 'a')), addModel(b, bucket, roomId, makeModel(roomId, 'b'))]);
        assert.deepEqual([wa.attempts, wb.attempts].sort(), [1, 2]);
        assert.equal(sentA[0].ifNoneMatch, '*');
        assert.equal(sentB[0].ifNoneMatch, '*');
        const retried = wa.attempts === 2 ? sentA : sentB;
        const winner = wa.attempts === 1 ? wa : wb;
        assert.deepEqual(retried[1], { ifMatch: ifMatchValue(winner.etag), ifNoneMatch: undefined });
        const { manifest } = await readManifest(s3, bucket, roomId);
        assert.equal(manifest.version, 2);
        assert.deepEqual(Object.keys(manifest.models).sort(), ['a', 'b']);
      } finally {
        a.destroy();
        b.destroy();
      }
    });

    test('a corrupt manifest gives a clear error and is never overwritten', async () => {
      const { s3 } = ctx();
      const cases: [string, RegExp][] = [
        ['{"version": 4, "room_id": "tr', /not valid JSON/],
        [JSON.stringify({ version: 4, room_id: 'x', updated_at: 'now', models: { m: { id: 'm' } } }), /does not match the manifest schema/],
      ];
      for (const [body, why] of cases) {
        const roomId = roomName('corrupt');
        const key = manifestKey(roomId);
        const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
        const isClear = (e: unknown): boolean =>
          isAppError(e, 'storage_error') && e.message.includes(`s3://${bucket}/${key} is corrupt`) && why.test(e.message) && /left untouched/.test(e.message);
        await assert.rejects(readManifest(s3, bucket, roomId), isClear);
        await assert.rejects(addModel(s3, bucket, roomId, makeModel(roomId, 'm1')), isClear);
        let mutated = false;
        await assert.rejects(
          updateManifest(s3, bucket, roomId, () => {
            mutated = true;
          }),
          isClear,
        );
        assert.equal(mutated, false, 'the mutation never sees a corrupt manifest');
        const after = await getText(s3, bucket, key);
        assert.equal(after.text, body);
        assert.equal(after.etag, put.ETag);
      }
    });

    test('aliases move between models; re-adding an id replaces it; the stored manifest validates', async () => {
      const { s3 } = ctx();
      const roomId = roomName('alias');
      await addModel(s3, bucket, roomId, makeModel(roomId, 'm1'), { alias: 'best' });
      await addModel(s3, bucket, roomId, makeModel(roomId, 'm2'), { alias: 'best' });
      const w = await addModel(s3, bucket, roomId, makeModel(roomId, 'm2', { notes: 'retrained' }));
      const { manifest } = await readManifest(s3, bucket, roomId);
      assert.deepEqual(manifest, w.manifest);
      assert.equal(manifest.version, 3);
      assert.deepEqual(manifest.aliases, { best: 'm2' });
      assert.equal(manifest.models.m1.alias, null);
      assert.equal(manifest.models.m2.alias, 'best');
      assert.equal(manifest.models.m2.notes, 'retrained');
      assert.ok(Date.parse(manifest.updated_at) > Date.now() - 60_000);
      await assert.rejects(
        updateManifest(s3, bucket, roomId, (m) => {
          m.aliases.dangling = 'nope';
        }),
        (e: unknown) => isAppError(e, 'bad_request') && /nothing was written/.test(e.message),
      );
      assert.equal((await readManifest(s3, bucket, roomId)).manifest.version, 3);
    });
  });
});
