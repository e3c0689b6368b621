// `npm run bench -- extension [--events N] [--points 1000000] [--frames 120] [--extension DIR]`
//
// The VS Code extension in one run, with a real stack (store, server, builtin worker; the
// extension starts its own agent from dist/bundled/, as for a user) and a real VS Code
// (code-server 4.96.4 + Debian's Chromium, test/support/vscode): the entry
// test/extension/bench/index.ts runs inside the extension host and reports
//   (a) activation: nothing of the extension loaded or active at start-up; ext.activate() time
//       (goal < 200 ms) and VS Code's own code-loading marks for it;
//   (b) worker event -> pixel in the Training Monitor, p50/p99 over >= 200 events (goal p99 < 100 ms):
//       rendered.t (the webview's Date.now() after a draw) - the worker's t of the event drawn last;
// then, outside VS Code,
//   (c) the monitor's redraw time with 1,000,000 points (bench/monitor.ts measureMonitor, goal < 16 ms/frame),
//   (d) the .vsix size (scripts/package.mjs).
// Prints measurements; asserts nothing about time.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { packageVsix, summarize } from '../scripts/package.mjs';
import { readAgentConnection } from '../src/core/agentConnection.js';
import { processAlive } from '../src/core/processAlive.js';
import type { ExtensionBenchResult } from '../test/extension/bench/index.js';
import { repoRoot, spawnCli, type Spawned } from '../test/support/proc.js';
import { writeSyntheticSlp } from '../test/support/slpFixtures.js';
import { codeServerMissing } from '../test/support/vscode/codeServer.js';
import { runVsCodeSuite } from '../test/support/vscode/runSuite.js';
import { waitFor } from '../test/support/wait.js';
import { benchFlags } from './args.js';
import { measureMonitor, type RedrawFigures } from './monitor.js';

const GOALS = { activationMs: 200, latencyP99Ms: 100, redrawMs: 16 };

function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}
const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`);
const finite = (xs: number[]) => xs.filter((x) => Number.isFinite(x));
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** (a) and (b): one VS Code run against a fresh stack. */
async function inVsCode(events: number, extension: string, log: (l: string) => void): Promise<ExtensionBenchResult> {
  const missing = codeServerMissing();
  if (missing) throw new Error(`${missing} (install it with: bash scripts/install-code-server.sh)`);
  const root = await mkdtemp(join(tmpdir(), 'sleap-rtc-bench-ext-'));
  let stack: Spawned | undefined;
  try {
    const data = join(root, 'data');
    const workspace = join(root, 'workspace');
    await Promise.all([mkdir(data, { recursive: true }), mkdir(workspace, { recursive: true })]);
    const dataset = join(workspace, 'mice.pkg.slp');
    await writeSyntheticSlp(dataset, { frames: 40, instancesPerFrame: 1, nodes: ['head', 'thorax', 'tail'], embedded: true });
    stack = await spawnCli(['stack', '--no-agent', '--data', data, '--store-port', '0', '--server-port', '0'], { waitFor: /^stack ready/m, built: true, timeoutMs: 60_000, env: { SLEAP_RTC_DATA: data } });
    log(`stack ready; VS Code starting (load ${load()})`);
    const artifacts = join(repoRoot, '.data', 'vscode-artifacts', 'bench-extension');
    const r = await runVsCodeSuite({
      workspace,
      extensionDevelopmentPath: extension,
      extensionTestsPath: join(repoRoot, 'dist', 'test', 'extension-bench', 'index.cjs'),
      env: { SLEAP_RTC_TEST_DATA: data, SLEAP_RTC_TEST_DATASET: dataset, SLEAP_RTC_BENCH_EVENTS: String(events) },
      settings: { 'sleapRtc.dataFolder': data, 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false },
      timeoutMs: 6 * 60_000,
      artifactsDir: artifacts,
      echo: false,
    });
    // The agent the extension started is detached (it outlives the window, by design): stop it.
    const conn = readAgentConnection(data);
    if (conn && processAlive(conn.pid)) {
      process.kill(conn.pid, 'SIGTERM');
      await waitFor(async () => (processAlive(conn.pid) ? undefined : true), 'the agent to stop', 10_000).catch(() => process.kill(conn.pid, 'SIGKILL'));
    }
    const line = r.log.find((l) => l.startsWith('BENCH_RESULT '));
    if (r.exitCode !== 0 || !line) throw new Error(`the bench inside VS Code failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}); its log:\n${r.log.slice(-30).join('\n')}\nartifacts in ${artifacts}`);
    return JSON.parse(line.slice('BENCH_RESULT '.length)) as ExtensionBenchResult;
  } finally {
    await stack?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

export async function main(args: string[]): Promise<number> {
  // --extension DIR: another build of the extension (a folder with package.json, dist/, media/) to
  // compare with this checkout's; the bench entry and everything else stay this checkout's.
  const f = benchFlags(args, { ints: { events: 300, frames: 120 }, strings: { points: '1000000', extension: repoRoot } });
  const sizes = f.points.split(',').map(Number);
  if (!sizes.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`--points needs positive integers, got ${f.points}`);
  const log = (l: string) => console.error(`  ${l}`);
  console.error(`extension bench: ${f.events} events, redraw with ${sizes.map((n) => n.toLocaleString('en-US')).join(', ')} points (load ${load()})`);

  const v = await inVsCode(f.events, resolve(f.extension), log);
  const { startup: s, activation: a } = v;
  for (const l of v.latency) log(`in VS Code, ${l.name}: ${l.draws} draws of new events in ${l.seconds.toFixed(1)} s (${l.eventsPerSecond.toFixed(0)} worker events/s; load ${load()})`);

  let redraw: RedrawFigures[] = [];
  try {
    redraw = (await measureMonitor({ sizes, frames: f.frames, log })).redraw;
  } catch (e) {
    log(`redraw: measureMonitor failed: ${e instanceof Error ? e.message : String(e)}`);
  }

  const root = await mkdtemp(join(tmpdir(), 'sleap-rtc-bench-vsix-'));
  let vsix: Awaited<ReturnType<typeof packageVsix>> | undefined;
  try {
    vsix = await packageVsix({ out: join(root, 'sleap-rtc.vsix'), quiet: true });
  } finally {
    await rm(root, { recursive: true, force: true });
  }

  const rows: [string, string, string][] = [
    ['(a) active after start-up, before any SLEAP command', String(s.isActive), 'false'],
    ['(a) extension files loaded before activation', String(s.ourModulesLoaded.length), '0'],
    ['(a) activation as VS Code reports it: loading the code + activate() (its perf marks)', a.codeLoadMs !== undefined && a.activateCallMs !== undefined ? ms(a.codeLoadMs + a.activateCallMs) : '–', `< ${GOALS.activationMs} ms`],
    ['(a)   loading dist/extension.cjs', ms(a.codeLoadMs), ''],
    ['(a)   activate() called until it returned; as activate() measured itself', `${ms(a.activateCallMs)}; ${ms(a.ownMs)}`, ''],
    ['(a) ext.activate() awaited by another extension (+ VS Code preparing the context)', ms(a.activateMs), ''],
    ['(a)   of which waiting for the context after the code loaded', ms(a.contextWaitMs), ''],
    ['(a) activate() returned -> agent connected (bundled CLI started)', ms(a.agentConnectedMs), ''],
    ...v.latency.flatMap((l): [string, string, string][] => [
      [`(b) worker event -> pixel, ${l.name} (${l.eventsPerSecond.toFixed(0)} events/s): p50 / p99 (${l.samples.length} draws)`, `${ms(quantile(l.samples, 0.5))} / ${ms(quantile(l.samples, 0.99))}`, `p99 < ${GOALS.latencyP99Ms} ms`],
      ['(b)   worker -> extension host (agent SSE), p50 / p99', `${ms(quantile(finite(l.toHost), 0.5))} / ${ms(quantile(finite(l.toHost), 0.99))}`, ''],
      ['(b)   extension host -> pixel (postMessage, draw), p50 / p99', `${ms(quantile(finite(l.hostToPixel), 0.5))} / ${ms(quantile(finite(l.hostToPixel), 0.99))}`, ''],
      ['(b)   max; the monitor\'s own draw time p99', `${ms(Math.max(...l.samples))}; ${ms(quantile(finite(l.drawMs), 0.99))}`, ''],
    ]),
    ...redraw.map((r): [string, string, string] => [`(c) redraw ${r.points.toLocaleString('en-US')} points, ${r.scenario}, p50 / p99 (${r.frames} frames)`, `${ms(r.p50_ms)} / ${ms(r.p99_ms)}`, `< ${GOALS.redrawMs} ms/frame`]),
    ['(d) .vsix size', vsix ? `${(vsix.size / 1024 / 1024).toFixed(2)} MiB (${vsix.entries.length} files)` : '–', ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(`\n${'measure'.padEnd(w0)}  ${'value'.padStart(w1)}  goal`);
  for (const [k, val, goal] of rows) console.log(`${k.padEnd(w0)}  ${val.padStart(w1)}  ${goal}`);
  console.log('');
  console.log(`  start-up: activation events ${JSON.stringify(s.activationEvents)} (+ the ones VS Code derives from the contributed commands and views); ${s.extensionsLoadedBefore.length} other extension(s) had loaded code: ${s.extensionsLoadedBefore.join(', ') || 'none'}`);
  if (a.hostLogLine) console.log(`  extension host log: ${a.hostLogLine}`);
  for (const l of v.latency) {
    console.log(`  latency, ${l.name}: one builtin job ${JSON.stringify(l.trainerConfig)}, its monitor open; the draws of its first second left out; job ${l.jobId}`);
    console.log(`    CPU meanwhile (cores): ${l.cpu.map((c) => `${c.label} ${c.cores.toFixed(2)}`).join(', ')}`);
  }
  if (vsix) console.log(`  .vsix contents:\n${summarize(vsix.entries).join('\n')}`);
  console.log(`  load average at the end: ${load()} (2 cores: others' work shows in every figure)`);
  return 0;
}
