import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAppError } from '../../src/core/errors.js';
import { Ledger, type LedgerUpload } from '../../src/agent/Ledger.js';
import { acquireLock } from '../../src/agent/lock.js';

function syntheticUpload(id: string, parts: number): LedgerUpload {
  const partSize = 8 * 1024 * 1024;
  return {
    id,
    path: `/data/${id}.slp`,
    dataset: 'file',
    state: 'uploading',
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    size: parts * partSize,
    warnings: [],
    origin: 'test',
    files: [
      {
        path: `/data/${id}.slp`,
        relativePath: `${id}.slp`,
        fingerprint: { size: parts * partSize, mtimeMs: 1, edges: 'e'.repeat(64) },
        sha256: 'a'.repeat(64),
        session: { bucket: 'b', key: `rooms/lab/datasets/x/${id}.slp`, uploadId: 'u'.repeat(40), s3Path: `s3://b/rooms/lab/datasets/x/${id}.slp`, fileSize: parts * partSize, partSize, partCount: parts, prefixId: 'x' },
        parts: {},
      },
    ],
  };
}

describe('ledger (lowdb)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ledger-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a 10,000-part upload spends a small share of its time in ledger writes (coalesced)', { timeout: 60_000 }, async (t) => {
    const file = join(dir, 'overhead', 'ledger.json');
    const ledger = await Ledger.open(file);
    const u = syntheticUpload('big', 10_000);
    await ledger.putUpload(u);
    const f = ledger.upload('big')!.files[0];
    const t0 = performance.now();
    // 10 parts every 5 ms: 10,000 parts in ~5 s, i.e. 2,000 parts/s (16 GB/s of 8 MiB parts,
    // ~80x faster than a real upload here): a harsh pace for the ledger.
    for (let n = 1; n <= 10_000; ) {
      for (let k = 0; k < 10 && n <= 10_000; k++, n++) {
        ledger.addPart(f, { partNumber: n, etag: `"${n.toString(16).padStart(32, '0')}"`, size: 8 * 1024 * 1024, checksum: { algorithm: 'md5', value: 'q'.repeat(22) + '==' } });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await ledger.close();
    const total = performance.now() - t0;
    const share = (ledger.stats.writeMs + ledger.stats.recordMs) / total;
    t.diagnostic(`ledger: 10,000 parts in ${(total / 1000).toFixed(2)} s wall, ${ledger.stats.writes} writes, ${ledger.stats.writeMs.toFixed(0)} ms writing + ${ledger.stats.recordMs.toFixed(0)} ms recording = ${(share * 100).toFixed(2)} % of the time`);
    assert.ok(share < 0.1, `ledger overhead ${(share * 100).toFixed(2)} % (regression bound 10 %)`);
    assert.ok(ledger.stats.writes < 500, `writes are coalesced (${ledger.stats.writes})`);
    const back = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(Object.keys(back.uploads.big.files[0].parts).length, 10_000);
    const again = await Ledger.open(file);
    assert.equal(again.doneParts(again.upload('big')!.files[0]).length, 10_000);
    assert.equal(again.doneParts(again.upload('big')!.files[0])[9_999].partNumber, 10_000);
  });

  test('state changes are written at once; part records within the coalescing interval', async () => {
    const file = join(dir, 'now', 'ledger.json');
    const ledger = await Ledger.open(file, { minIntervalMs: 200 });
    await ledger.putUpload(syntheticUpload('a', 10));
    assert.equal(JSON.parse(await readFile(file, 'utf8')).uploads.a.state, 'uploading');
    await ledger.update('a', (u) => (u.state = 'paused'));
    assert.equal(JSON.parse(await readFile(file, 'utf8')).uploads.a.state, 'paused');
    ledger.addPart(ledger.upload('a')!.files[0], { partNumber: 1, etag: '"e1"', size: 5 });
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')).uploads.a.files[0].parts['1'], { etag: '"e1"', size: 5 });
    await ledger.close();
  });

  test('lock: a live owner is refused with a clear error; a dead pid is taken over', async () => {
    const lockFile = join(dir, 'agent.lock');
    const sleeper = spawn('sleep', ['30']);
    try {
      await writeFile(lockFile, `${sleeper.pid}\n`);
      assert.throws(
        () => acquireLock(lockFile, 'test'),
        (e: unknown) => isAppError(e, 'conflict') && /another sleap-rtc agent or upload \(pid \d+\) is using this data folder/.test(e.message) && e.details?.pid === sleeper.pid,
      );
    } finally {
      sleeper.kill('SIGKILL');
    }
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    await writeFile(lockFile, `${dead.pid}\n`);
    const held = acquireLock(lockFile, 'test');
    assert.equal((await readFile(lockFile, 'utf8')).trim(), String(process.pid));
    held.release();
    await assert.rejects(readFile(lockFile), /ENOENT/);
  });
});
