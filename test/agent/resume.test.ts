import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../support/proc.js';
import { s3Targets } from '../support/targets.js';
import { runCli, sha256ViaBoto3, startAgentProcess, startAgentTestEnv, writeBigZip, type AgentTestEnv } from './support/env.js';

// kill -9 at ~50 % of a large upload, then a restart: only the parts in flight at the kill are
// sent again. Size from SLEAP_RTC_TEST_UPLOAD_MIB (default 256; the acceptance run uses 1024).
const SIZE = Number(process.env.SLEAP_RTC_TEST_UPLOAD_MIB ?? 256) * 1024 * 1024;
const PART = 8 * 1024 * 1024;
const CONCURRENCY = 4;
const tuning = ['--concurrency', String(CONCURRENCY), '--part-size', String(PART)];

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Part numbers PUT more than once (with the bytes of each try): what the restart sent again. */
function partReport(env: AgentTestEnv): string {
  const tries = new Map<number, number[]>();
  for (const r of env.proxy.requests) if (r.method === 'PUT' && r.partNumber) tries.set(r.partNumber, [...(tries.get(r.partNumber) ?? []), r.requestBytes]);
  const again = [...tries].filter(([, b]) => b.length > 1).map(([n, b]) => `${n}: ${b.join('+')}`);
  return `parts tried more than once: ${again.length ? again.join(', ') : 'none'}`;
}

async function untilBytes(env: AgentTestEnv, n: number, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (env.proxy.requestBytes('PUT') < n) {
    if (Date.now() > end) throw new Error(`only ${env.proxy.requestBytes('PUT')} bytes went through the proxy`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const factory of s3Targets()) {
  describe(`kill -9 at ~50 % and restart resumes (${factory.name}, ${SIZE / 1024 / 1024} MiB, ${PART / 1024 / 1024} MiB x ${CONCURRENCY})`, () => {
    let env: AgentTestEnv;
    let file: string;
    let sha: string;
    before(async () => {
      env = await startAgentTestEnv(await factory.start());
      file = join(env.dir, 'big.zip');
      await writeBigZip(file, SIZE);
      sha = await sha256Of(file);
    });
    after(async () => {
      await env?.stop();
      await env?.target.stop();
    });

    test('sleap-rtc upload: kill -9, run again, only missing parts are sent', { timeout: 300_000 }, async (t) => {
      env.proxy.resetStats();
      const data = join(env.dir, 'cli-data');
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'upload', file, '--data', data, ...tuning], { cwd: repoRoot, env: { ...process.env, ...env.env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      const exited = new Promise((r) => child.once('exit', r));
      await untilBytes(env, SIZE / 2).catch((e: Error) => {
        throw new Error(`${e.message}; sleap-rtc upload (exit ${child.exitCode}) said:\n${stderr}`);
      });
      child.kill('SIGKILL');
      await exited;
      const atKill = env.proxy.requestBytes('PUT');
      assert.ok(atKill < SIZE, 'killed before the end');
      JSON.parse(await readFile(join(data, 'agent', 'ledger.json'), 'utf8'));
      const again = await runCli(['upload', file, '--data', data, '--json', ...tuning], env.env, { timeoutMs: 240_000 });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /resuming upload/);
      const lines = again.stdout.trim().split('\n');
      assert.equal(lines.length, 1, 'exactly one JSON object on stdout');
      const out = JSON.parse(lines[0]);
      assert.deepEqual(Object.keys(out).sort(), ['bucket', 'key', 'sha256', 'size', 'upload_id']);
      assert.equal(out.size, SIZE);
      assert.equal(out.sha256, sha);
      const resent = env.proxy.requestBytes('PUT') - SIZE;
      t.diagnostic(partReport(env));
      t.diagnostic(`cli: killed at ${(atKill / SIZE * 100).toFixed(0)} %, bytes sent again ${(resent / 1024 / 1024).toFixed(1)} MiB (bound ${CONCURRENCY} x ${PART / 1024 / 1024} MiB)`);
      assert.ok(resent <= CONCURRENCY * PART, `sent again ${resent} bytes`);
      assert.equal(await sha256ViaBoto3(env.target, out.bucket, out.key), sha);
    });

    if (factory.name === 'embedded') {
      test('sleap-rtc agent: kill -9, restart, the upload completes by itself', { timeout: 300_000 }, async (t) => {
        env.proxy.resetStats();
        const data = join(env.dir, 'agent-data');
        const agent = await startAgentProcess(env.env, data, tuning);
        const created = await agent.api('/api/uploads', { body: { path: file } });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        await untilBytes(env, SIZE / 2);
        await agent.proc.stop('SIGKILL');
        const atKill = env.proxy.requestBytes('PUT');
        assert.ok(atKill < SIZE, 'killed before the end');
        JSON.parse(await readFile(join(data, 'agent', 'ledger.json'), 'utf8'));
        // The lock of the killed agent is stale: the new one takes it over.
        const again = await startAgentProcess(env.env, data, tuning);
        try {
          let v: any;
          const end = Date.now() + 240_000;
          do {
            await new Promise((r) => setTimeout(r, 200));
            v = (await again.api(`/api/uploads/${created.body.id}`)).body;
          } while (v.state !== 'completed' && v.state !== 'failed' && Date.now() < end);
          assert.equal(v.state, 'completed', JSON.stringify(v));
          const resent = env.proxy.requestBytes('PUT') - SIZE;
          t.diagnostic(partReport(env));
          t.diagnostic(`agent: killed at ${(atKill / SIZE * 100).toFixed(0)} %, bytes sent again ${(resent / 1024 / 1024).toFixed(1)} MiB (bound ${CONCURRENCY} x ${PART / 1024 / 1024} MiB)`);
          assert.ok(resent <= CONCURRENCY * PART, `sent again ${resent} bytes`);
          assert.equal(v.sha256, sha);
          assert.equal(await sha256ViaBoto3(env.target, v.bucket, v.key), sha);
        } finally {
          await again.proc.stop();
        }
      });
    }
  });
}
