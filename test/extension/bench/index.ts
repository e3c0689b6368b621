// The tests entry of `npm run bench -- extension` (bench/extension.ts), run inside a real VS Code
// extension host by runVsCodeSuite: bundled by scripts/build/extensionBench.mjs into
// dist/test/extension-bench/index.cjs. No mocha: run() measures and prints one line
// `BENCH_RESULT <json>` that the bench reads from the host's console. It asserts nothing about time.
//   (a) activation: whether anything of the extension is loaded or active before a SLEAP command
//       (require.cache, isActive, VS Code's own perf marks of the extensions loaded so far), then
//       ext.activate() timed here and VS Code's marks around loading our code;
//   (b) worker event -> pixel: a long builtin job, its monitor open; each draw posts `rendered`
//       {last_seq, t} (api.monitors.onDidRender); latency = rendered.t - t of the event last_seq
//       (the worker's Date.now(), same machine), the events' t read from GET /api/jobs/:id; split
//       at the moment the extension host read the event off the agent's SSE (api.link.onEvent).
//       Twice: the builtin trainer flat out (hundreds of events/s) and at a sleap-nn-like rate.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { cpuOfAllProcesses, cpuShares } from '../../../bench/procStats.js';
import type { SleapRtcApi } from '../../../src/extension/extension.js';
import type { Rendered } from '../../../src/extension/monitor/MonitorPanels.js';
import { waitFor } from '../../support/wait.js';

export const EXTENSION_ID = 'sleap-rtc.sleap-rtc';

/** What run() reports (bench/extension.ts prints it). */
export interface ExtensionBenchResult {
  startup: {
    isActive: boolean;
    /** Files of the extension (dist/extension.cjs, dist/bundled/) in require.cache before activation. */
    ourModulesLoaded: string[];
    /** Extensions whose code VS Code had loaded when the bench started (its perf marks). */
    extensionsLoadedBefore: string[];
    activationEvents: string[];
  };
  activation: {
    /** ext.activate() as this host awaits it: loading dist/extension.cjs + activate(). */
    activateMs: number;
    /** VS Code's marks code/extHost/{will,did}LoadExtensionCode/<id>: require() of `main`. */
    codeLoadMs?: number;
    /**
     * VS Code's marks code/extHost/{will,did}ActivateExtension/<id>: calling activate() until it
     * returned. With codeLoadMs, the activation time VS Code itself reports for an extension
     * (its "Running Extensions" view and extensionActivationTimes telemetry: code loading +
     * activate call); the rest of activateMs is the host preparing the ExtensionContext (storage,
     * secrets), which it does for every extension, in parallel with loading the code.
     */
    activateCallMs?: number;
    /** didLoadExtensionCode -> willActivateExtension: waiting for that context after the code loaded. */
    contextWaitMs?: number;
    /** activate() itself, as the extension measured it. */
    ownMs?: number;
    /** The extension host log's line about it (activation event, reason). */
    hostLogLine?: string;
    /** From activate() returning to the agent connected (found or started: the bundled CLI). */
    agentConnectedMs: number;
  };
  /** One entry per phase: the same kind of job at two event rates. */
  latency: LatencyPhase[];
}

/** Worker event -> pixel for one job, its monitor open. */
export interface LatencyPhase {
  name: string;
  trainerConfig: Record<string, unknown>;
  /** rendered.t - event.t for each draw that showed a new event (ms). */
  samples: number[];
  /** Of each: the worker's event -> the agent's SSE event for it read by the extension host (ms). */
  toHost: number[];
  /** Of each: the extension host -> drawn in the webview (ms). */
  hostToPixel: number[];
  draws: number;
  /** draw_ms the monitor reported for those draws. */
  drawMs: number[];
  /** The worker's events per second over the samples (all kinds: status, batch, epoch). */
  eventsPerSecond: number;
  seconds: number;
  jobId: string;
  /** Where the CPU went while the draws were collected (share of one core per process, busiest first). */
  cpu: { label: string; pid: number; cores: number }[];
}

interface Mark {
  name: string;
  startTime: number;
}

function perfMarks(): Mark[] {
  const m = (globalThis as { MonacoPerformanceMarks?: { getMarks?: () => Mark[] } }).MonacoPerformanceMarks;
  try {
    return m?.getMarks?.() ?? [];
  } catch {
    return [];
  }
}

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through bench/extension.ts`);
  return v;
}

/** waitFor, checked every 50 ms (the phases below are timed from these waits). */
const POLL = { intervalMs: 50 };

/** The remote extension host's log (next to our extension's log folder), its line about us. */
function hostLogLine(api: SleapRtcApi): string | undefined {
  try {
    const dir = dirname(api.services.context.logUri.fsPath);
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.log')) continue;
      const line = readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .find((l) => l.includes(`_doActivateExtension ${EXTENSION_ID}`));
      if (line) return `${f}: ${line.trim()}`;
    }
  } catch {
    // No log folder: the line is only informative.
  }
  return undefined;
}

async function measure(): Promise<ExtensionBenchResult> {
  const dataset = need('SLEAP_RTC_TEST_DATASET');
  const wanted = Number(process.env.SLEAP_RTC_BENCH_EVENTS ?? 300);
  const warmupMs = Number(process.env.SLEAP_RTC_BENCH_WARMUP_MS ?? 1000);
  const ext = vscode.extensions.getExtension<SleapRtcApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed in this VS Code`);

  // (a) Before any SLEAP command or view.
  const root = ext.extensionPath;
  const ours = (p: string) => p === join(root, 'dist', 'extension.cjs') || p.startsWith(join(root, 'dist', 'bundled') + '/');
  const startup: ExtensionBenchResult['startup'] = {
    isActive: ext.isActive,
    ourModulesLoaded: Object.keys(require.cache).filter(ours),
    extensionsLoadedBefore: perfMarks()
      .filter((m) => m.name.startsWith('code/extHost/didLoadExtensionCode/'))
      .map((m) => m.name.slice('code/extHost/didLoadExtensionCode/'.length)),
    activationEvents: (ext.packageJSON.activationEvents ?? []) as string[],
  };

  const t0 = performance.now();
  const api = await ext.activate();
  const activateMs = performance.now() - t0;
  const marks = perfMarks();
  const will = marks.find((m) => m.name === `code/extHost/willLoadExtensionCode/${EXTENSION_ID}`);
  const did = marks.find((m) => m.name === `code/extHost/didLoadExtensionCode/${EXTENSION_ID}`);
  const willActivate = marks.find((m) => m.name === `code/extHost/willActivateExtension/${EXTENSION_ID}`);
  const didActivate = marks.find((m) => m.name === `code/extHost/didActivateExtension/${EXTENSION_ID}`);
  const t1 = performance.now();
  await waitFor(() => api.link.supervisor.state === 'connected', 'the agent to connect', 90_000, { ...POLL, lastSeen: () => api.link.supervisor.state });
  const activation = { activateMs, ownMs: api.activationMs, codeLoadMs: will && did ? did.startTime - will.startTime : undefined, activateCallMs: willActivate && didActivate ? didActivate.startTime - willActivate.startTime : undefined, contextWaitMs: did && willActivate ? Math.max(0, willActivate.startTime - did.startTime) : undefined, hostLogLine: hostLogLine(api), agentConnectedMs: performance.now() - t1 };

  // (b) The same job at two event rates: the builtin trainer flat out (epochs of 300 tiny steps:
  // a few hundred events/s), then with epochs of ~1 s (batch_end at its throttled 20/s, as
  // sleap-nn sends them: a rate like a real training run's).
  const phases = [
    { name: 'builtin flat out', trainerConfig: { max_epochs: 100_000, min_train_steps_per_epoch: 300 } },
    { name: 'sleap-nn-like rate', trainerConfig: { max_epochs: 100_000, min_train_steps_per_epoch: Number(process.env.SLEAP_RTC_BENCH_SLOW_STEPS ?? 40_000) } },
  ];
  const latency: LatencyPhase[] = [];
  for (const p of phases) latency.push(await latencyPhase(api, dataset, p.name, p.trainerConfig, wanted, warmupMs));
  return { startup, activation, latency };
}

async function latencyPhase(api: SleapRtcApi, dataset: string, name: string, trainerConfig: Record<string, unknown>, wanted: number, warmupMs: number): Promise<LatencyPhase> {
  const client = api.services.agent.current()!;
  const draws: Rendered[] = [];
  const off = api.monitors.onDidRender((r) => void draws.push(r));
  // When the extension host read each job event off the agent's SSE stream.
  const atHost = new Map<string, number>();
  const offEvents = api.link.onEvent((e) => {
    const d = e.data as { job?: { id?: string }; event?: { seq?: number } } | undefined;
    if (e.event === 'job' && d?.job?.id && typeof d.event?.seq === 'number') atHost.set(`${d.job.id}:${d.event.seq}`, Date.now());
  });
  // The worker takes one job at a time: the previous phase's must have ended.
  const job = await waitFor(
    () => client.call<{ id: string }>('POST', '/api/jobs', { dataset, config: { trainer: 'builtin', trainer_config: trainerConfig } }).catch((e: { code?: string }) => (e?.code === 'no_worker' || e?.code === 'worker_busy' ? undefined : Promise.reject(e))),
    'a free worker',
    30_000,
    POLL,
  );
  await vscode.commands.executeCommand('sleapRtc.openMonitor', job.id);
  // Draws after the warm-up (link set up, history replayed) that showed a new event.
  const fresh = (): Rendered[] => {
    const first = draws.find((d) => d.job_id === job.id);
    if (!first) return [];
    let last = 0;
    return draws.filter((d) => {
      if (d.job_id !== job.id || d.last_seq === undefined || d.last_seq <= last) return false;
      last = d.last_seq;
      return d.t >= first.t + warmupMs;
    });
  };
  const started = Date.now();
  const cpuBefore = cpuOfAllProcesses();
  let cpu: LatencyPhase['cpu'];
  try {
    await waitFor(() => fresh().length >= wanted, `${wanted} draws of new events`, 240_000, { ...POLL, lastSeen: () => `${fresh().length} draws` });
    cpu = cpuShares(cpuBefore, cpuOfAllProcesses(), (Date.now() - started) / 1000);
  } finally {
    off();
    offEvents();
    await client.call('POST', `/api/jobs/${encodeURIComponent(job.id)}/commands`, { command: 'cancel' }).catch(() => undefined);
  }
  const seconds = (Date.now() - started) / 1000;

  // The events' t from the agent's history of the job, paged.
  const t = new Map<number, number>();
  for (let after = 0; ; ) {
    const page = await client.call<{ events: { seq: number; t?: number }[] }>('GET', `/api/jobs/${encodeURIComponent(job.id)}?after_seq=${after}&limit=2000`);
    for (const e of page.events) if (typeof e.t === 'number') t.set(e.seq, e.t);
    if (page.events.length < 2000) break;
    after = page.events[page.events.length - 1].seq;
  }
  api.monitors.get(job.id)?.dispose();
  const used = fresh().filter((d) => t.has(d.last_seq!));
  const samples = used.map((d) => d.t - t.get(d.last_seq!)!);
  const host = (d: Rendered) => atHost.get(`${job.id}:${d.last_seq}`) ?? Number.NaN;
  const toHost = used.map((d) => host(d) - t.get(d.last_seq!)!);
  const hostToPixel = used.map((d) => d.t - host(d));
  const seqs = used.map((d) => d.last_seq!);
  const span = used.length > 1 ? (t.get(seqs.at(-1)!)! - t.get(seqs[0])!) / 1000 : 0;
  return { name, trainerConfig, samples, toHost, hostToPixel, draws: used.length, drawMs: used.map((d) => d.draw_ms ?? Number.NaN), eventsPerSecond: span > 0 ? (seqs.at(-1)! - seqs[0]) / span : 0, seconds, jobId: job.id, cpu };
}

/** What VS Code calls (extensionTestsPath): measures, prints BENCH_RESULT, rejects on failure. */
export async function run(): Promise<void> {
  const result = await measure();
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
}
