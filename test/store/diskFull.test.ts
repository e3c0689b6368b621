import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mountSmallDisk, type SmallDisk } from '../support/smallDisk.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { keysViaBoto3, runCli, sha256ViaBoto3, startAgentTestEnv, writeBigZip, type AgentTestEnv } from '../agent/support/env.js';

// The embedded store on a disk that really fills up (a 96 MiB tmpfs): `sleap-rtc upload` of a
// 40 MiB file with 60 MiB of it taken fails with a clear error, leaves no object, and the same
// command resumes and completes once space is freed.
describe("the store's disk full mid upload (a real full filesystem)", () => {
  let disk: SmallDisk;
  let store: EmbeddedStoreTarget;
  let env: AgentTestEnv;
  before(async () => {
    disk = await mountSmallDisk(96);
    store = await startEmbeddedStore({ dataDir: join(disk.dir, 'store') });
    env = await startAgentTestEnv(store);
  });
  after(async () => {
    await env?.stop();
    await store?.stop();
    await disk?.remove();
  });

  test('a clear disk_full error naming what to do, not retried, no object; the same command resumes once there is room', { timeout: 120_000 }, async () => {
    const filler = join(disk.dir, 'filler.bin');
    await writeFile(filler, Buffer.alloc(60 * 1024 * 1024, 7));
    const file = join(env.dir, 'big.zip');
    await writeBigZip(file, 40 * 1024 * 1024);
    const data = join(env.dir, 'data');
    const args = ['upload', file, '--data', data, '--json'];

    const putsBefore = env.proxy.requests.length;
    const full = await runCli(args, env.env);
    assert.notEqual(full.code, 0, 'the upload fails');
    assert.match(full.stderr, /S3 answered 507 \(InsufficientStorage: The store's disk is full \(ENOSPC\)/, full.stderr);
    assert.match(full.stderr, /free space there .*then run the same upload again/, 'the error says what to do');
    assert.doesNotMatch(full.stderr, /\n\s+at /, 'no stack trace');
    const refused = env.proxy.requests.slice(putsBefore).filter((q) => q.method === 'PUT' && q.status === 507);
    assert.equal(new Set(refused.map((q) => q.partNumber)).size, refused.length, `a part refused for a full disk is not tried again: ${JSON.stringify(refused.map((q) => q.partNumber))}`);
    assert.deepEqual((await keysViaBoto3(store, env.server.bucket)).filter((k) => k.endsWith('big.zip')), [], 'no object (a multipart upload is not an object until completed)');
    const ledger = JSON.parse(await readFile(join(data, 'agent', 'ledger.json'), 'utf8')) as { uploads: Record<string, { state: string; files: Array<{ parts: Record<string, unknown> }> }> };
    const kept = Object.values(ledger.uploads);
    assert.equal(kept.length, 1, 'the ledger keeps the interrupted upload');
    assert.equal(kept[0]!.state, 'failed');
    const stored = Object.keys(kept[0]!.files[0]!.parts).length;
    assert.ok(stored > 0 && stored < 5, `the parts stored before the disk filled are recorded (${stored} of 5)`);

    await unlink(filler);
    const again = await runCli(args, env.env);
    assert.equal(again.code, 0, again.stderr);
    const told = /resuming: (\d+) of 5 parts/.exec(again.stderr);
    assert.ok(told && Number(told[1]) >= stored, `the resume keeps the ${stored} stored parts: ${again.stderr}`);
    const out = JSON.parse(again.stdout) as { bucket: string; key: string };
    assert.equal(await sha256ViaBoto3(store, out.bucket, out.key), createHash('sha256').update(await readFile(file)).digest('hex'));
  });
});
