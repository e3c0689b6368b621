import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAppError } from '../../src/core/errors.js';
import { Ledger } from '../../src/agent/Ledger.js';
import { acquireLock } from '../../src/agent/lock.js';
import { spawnCli } from '../support/proc.js';
import { waitFor } from '../support/wait.js';
import { syntheticPart, syntheticUpload } from './support/syntheticUpload.js';

describe('ledger (lowdb)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ledger-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // How much of an upload's time goes to the ledger is measured by `npm run bench -- ledger`;
  // this pins what does not depend on the machine's speed.
  test('10,000 part records are coalesced: none is written at once, close writes them all in one go', { timeout: 60_000 }, async () => {
    const file = join(dir, 'coalesced', 'ledger.json');
    // An interval longer than the test: no timed write fires, so every write counted is one asked for.
    const ledger = await Ledger.open(file, { minIntervalMs: 3_600_000 });
    await ledger.putUpload(syntheticUpload('big', 10_000));
    const f = ledger.upload('big')!.files[0];
    const writes = ledger.stats.writes;
    for (let n = 1; n <= 10_000; n++) {
      ledger.addPart(f, syntheticPart(n));
      // The event loop runs between batches of parts, as during an upload.
      if (n % 10 === 0) await new Promise<void>((r) => setImmediate(r));
    }
    assert.equal(ledger.stats.writes, writes, 'a part record was written at once');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')).uploads.big.files[0].parts, {}, 'the file already holds part records');
    await ledger.close();
    assert.equal(ledger.stats.writes, writes + 1, 'close writes the pending records in one write');
    const back = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(Object.keys(back.uploads.big.files[0].parts).length, 10_000);
    const again = await Ledger.open(file);
    assert.equal(again.doneParts(again.upload('big')!.files[0]).length, 10_000);
    assert.equal(again.doneParts(again.upload('big')!.files[0])[9_999].partNumber, 10_000);
  });

  test('state changes are written at once; part records by the next coalesced write', async () => {
    const file = join(dir, 'now', 'ledger.json');
    const ledger = await Ledger.open(file, { minIntervalMs: 200 });
    await ledger.putUpload(syntheticUpload('a', 10));
    assert.equal(JSON.parse(await readFile(file, 'utf8')).uploads.a.state, 'uploading');
    await ledger.update('a', (u) => (u.state = 'paused'));
    assert.equal(JSON.parse(await readFile(file, 'utf8')).uploads.a.state, 'paused');
    ledger.addPart(ledger.upload('a')!.files[0], { partNumber: 1, etag: '"e1"', size: 5 });
    const part = await waitFor(async () => JSON.parse(await readFile(file, 'utf8')).uploads.a.files[0].parts['1'], 'part 1 in the file, by the timed write', 10_000, { intervalMs: 20 });
    assert.deepEqual(part, { etag: '"e1"', size: 5 });
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

  test('a corrupted ledger file is kept aside as ledger.json.corrupt, and `sleap-rtc agent` starts with an empty one and says so', { timeout: 60_000 }, async () => {
    const data = join(dir, 'corrupt-data');
    const file = join(data, 'agent', 'ledger.json');
    const junk = '{"version":1,"uploads":{"up_1":{"id":"up_1","path":"/x","st';
    await Ledger.open(file).then((l) => l.close());
    await writeFile(file, junk);
    const agent = await spawnCli(['agent', '--port', '0', '--data', data], {
      waitFor: /agent listening on (http:\/\/\S+) \(token in (\S+)\)/,
      // No room: the agent needs no other process to start; nothing here calls the server.
      env: { SLEAP_RTC_SERVER: 'http://127.0.0.1:9', SLEAP_RTC_ROOM_TOKEN: 'x'.repeat(32), SLEAP_RTC_DATA: undefined, SLEAP_RTC_CONFIG: undefined, SLEAP_RTC_ROOM: undefined, SLEAP_RTC_STACK_SECRETS: undefined },
    });
    try {
      await waitFor(() => /could not be read .*kept aside as \S+ledger\.json\.corrupt.*starts with an empty ledger/.test(agent.stderrTail()) || undefined, 'the agent saying what it did with the ledger', 10_000, { lastSeen: () => agent.stderrTail() });
      assert.equal(await readFile(`${file}.corrupt`, 'utf8'), junk, 'the corrupt file is kept as it was');
      const token = (await readFile(agent.line[2], 'utf8')).trim();
      const res = await fetch(`${agent.line[1]}/api/uploads`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { uploads: unknown[] }).uploads, []);
    } finally {
      await agent.stop();
    }
    // The new ledger is a ledger: it opens without being set aside again.
    const again = await Ledger.open(file);
    assert.equal(again.recovered, undefined);
    await again.close();
  });
});
