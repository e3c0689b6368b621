// Start-up errors a user meets first: a busy port is one line naming the port, the process that
// holds it and the flag that moves ours (never a stack trace); `npm start` stops on Ctrl-C / SIGTERM.
// Real processes: the port is held by Debian's python3, the CLI is the built dist/cli.js.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { processAlive } from '../../src/core/processAlive.js';
import { readStackInfo } from '../../src/core/stackInfo.js';
import { repoRoot } from '../support/proc.js';
import { waitFor } from '../support/wait.js';

/** A python3 process listening on a free port (an independent holder, not this test's process). */
async function holdPort(): Promise<{ port: number; proc: ChildProcess }> {
  const proc = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
    proc.once('exit', (c) => reject(new Error(`python3 exited ${c} before listening`)));
  });
  return { port, proc };
}

/** Runs the built CLI to its end: exit code and stderr. */
function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(repoRoot, 'dist', 'cli.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SLEAP_RTC_DATA: undefined } });
    let stderr = '';
    p.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    p.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('start-up errors', () => {
  let dir = '';
  let held: { port: number; proc: ChildProcess };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'startup-errors-'));
    held = await holdPort();
  });
  after(async () => {
    held?.proc.kill();
    await rm(dir, { recursive: true, force: true });
  });

  test('a busy port: one line with the port, the process holding it and the flag to change, for each service', async () => {
    const cases: { args: string[]; service: string; flag: string }[] = [
      { args: ['stack', '--data', join(dir, 's1'), '--store-port', String(held.port), '--server-port', '0', '--agent-port', '0'], service: 'store', flag: '--store-port' },
      { args: ['stack', '--data', join(dir, 's2'), '--store-port', '0', '--server-port', String(held.port), '--agent-port', '0'], service: 'server', flag: '--server-port' },
      { args: ['stack', '--data', join(dir, 's3'), '--store-port', '0', '--server-port', '0', '--agent-port', String(held.port)], service: 'agent', flag: '--agent-port' },
      { args: ['store', '--data', join(dir, 'store'), '--port', String(held.port), '--access-key', 'AKEXAMPLE', '--secret-key', 'secret-example-1234567890'], service: 'store', flag: '--port' },
    ];
    for (const c of cases) {
      const r = await cli(c.args);
      const what = `${c.args[0]} with ${c.flag} busy`;
      assert.equal(r.code, 1, `${what}: exit 1; stderr: ${r.stderr}`);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('sleap-rtc: '));
      assert.equal(errors.length, 1, `${what}: one error line; stderr: ${r.stderr}`);
      assert.match(errors[0], new RegExp(`^sleap-rtc: the ${c.service} cannot listen on 127\\.0\\.0\\.1:${held.port}: the port is already in use by pid ${held.proc.pid} \\(\\S*python3 -c .*\\); stop that process, or choose another port with ${c.flag} <n> \\(0 picks a free one\\)$`), what);
      assert.doesNotMatch(r.stderr, /\n\s+at |EADDRINUSE/, `${what}: no stack trace`);
    }
  });

  test('npm start forwards SIGINT and SIGTERM to the stack: nothing keeps running', { timeout: 180_000 }, async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const data = join(dir, `npm-${signal}`);
      const npm = spawn('npm', ['start', '--', '--data', data, '--store-port', '0', '--server-port', '0', '--agent-port', '0'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLEAP_RTC_DATA: undefined } });
      let out = '';
      npm.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      npm.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
      const info = await waitFor(() => (/stack ready/.test(out) ? readStackInfo(data) : undefined), `npm start to bring the stack up (${signal})`, 120_000, { lastSeen: () => out.slice(-500) });
      assert.notEqual(info.pid, npm.pid, 'the stack runs in its own node process');
      npm.kill(signal);
      await exited;
      await waitFor(() => !processAlive(info.pid), `the stack (pid ${info.pid}) to stop after ${signal} to npm`, 20_000);
      assert.equal(readStackInfo(data), undefined, `${signal}: the stack stopped cleanly (its stack.json removed)`);
    }
  });
});
