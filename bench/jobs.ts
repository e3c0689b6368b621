// `npm run bench -- jobs [--runs N]`
//
// Jobs end to end with real processes (the built dist/cli.js, as users run it): the embedded
// store, `sleap-rtc server` on a fixed port with an explicit room (so it can be restarted on the
// same port with the same room), one builtin `sleap-rtc worker` and `sleap-rtc agent`, driven
// through the agent's HTTP API and followed on its SSE stream (/api/events). Measures:
//   1. submit -> first progress event (goal <= 2 s),
//   2. worker event -> agent SSE latency (event.t is the worker's Date.now(); goal p99 <= 50 ms),
//   3. a kill -9 of the worker -> the job reported failed with worker_lost (goal <= 5 s),
//   4. a signaling server restart during a job: peers re-registered (goal <= 10 s) while the
//      job's progress keeps flowing (its WebRTC link does not go through the server).
// Prints measurements; asserts nothing about time.
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AgentClient } from '../src/core/AgentClient.js';
import { jobView } from '../src/core/schemas/agent.js';
import { errorBody } from '../src/core/schemas/backend.js';
import { peerInfo } from '../src/core/schemas/signaling.js';
import { CACHE_HIT_MESSAGE } from '../src/worker/JobRunner.js';
import { spawnCli, type Spawned } from '../test/support/proc.js';
import { sharedSleapDir, writeSyntheticSlp } from '../test/support/slpFixtures.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../test/support/store.js';
import { benchFlags } from './args.js';

/** Runs until cancelled: epochs of 300 quick batches, so epoch_begin/epoch_end come often (batch_end is throttled to 20/s). */
const LONG = { trainer: 'builtin', trainer_config: { max_epochs: 100_000, min_train_steps_per_epoch: 300 } };
const LATENCY_EVENTS = 2000;
/** Progress events received this long after a job's first one are left out of the latency samples (link setup, replay of the backlog). */
const LATENCY_WARMUP_MS = 1000;

interface Options {
  runs: number;
  kills: number;
  restarts: number;
  latencyEvents: number;
}

function parseOptions(args: string[]): Options {
  const f = benchFlags(args, { ints: { runs: 5, kills: 3, restarts: 3, 'latency-events': LATENCY_EVENTS } });
  return { runs: f.runs, kills: f.kills, restarts: f.restarts, latencyEvents: f['latency-events'] };
}

// ---- the agent's SSE stream ------------------------------------------------------------------

interface Received {
  /** Date.now() when the bench read the event off the stream. */
  at: number;
  type: 'state' | 'event';
  job: { id: string; status: string; error?: { code: string; message: string } };
  event?: { type: string; seq: number; t: number; data?: { event?: string } };
}

/** Every `event: job` message of the agent's SSE stream, with its receive time; waiters are woken on each. */
class Tap {
  events: Received[] = [];
  private readonly ctrl = new AbortController();
  private readonly wakers = new Set<() => void>();
  private failure: unknown;

  static async open(url: string, token: string): Promise<Tap> {
    const tap = new Tap();
    const stream = await new AgentClient(url, token).openEvents(tap.ctrl.signal);
    void (async () => {
      for await (const e of stream) {
        if (e.event !== 'job') continue;
        tap.events.push({ at: Date.now(), ...(e.data as Omit<Received, 'at'>) });
        for (const w of [...tap.wakers]) w();
      }
    })().catch((e: unknown) => {
      tap.failure = e;
      for (const w of [...tap.wakers]) w();
    });
    return tap;
  }

  /** The first event from index `from` on that matches, waiting for it up to `timeoutMs`. */
  async waitFor(pred: (r: Received) => boolean, what: string, timeoutMs: number, from = 0): Promise<Received> {
    let i = from;
    const scan = (): Received | undefined => {
      for (; i < this.events.length; i++) if (pred(this.events[i])) return this.events[i];
      return undefined;
    };
    const found = scan();
    if (found) return found;
    return new Promise<Received>((resolve, reject) => {
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        f();
      };
      const wake = () => {
        if (this.failure) return done(() => reject(new Error(`the agent's event stream failed: ${String(this.failure)}`)));
        const r = scan();
        if (r) done(() => resolve(r));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
      this.wakers.add(wake);
    });
  }

  /** Forget what was received (memory: the latency job produces many events). */
  clear(): void {
    this.events = [];
  }

  close(): void {
    this.ctrl.abort();
  }
}

const isProgress = (id: string) => (r: Received) => r.type === 'event' && r.job.id === id && r.event?.type === 'progress';

// ---- the processes -----------------------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Stack {
  dir: string;
  store?: EmbeddedStoreTarget;
  port: number;
  url: string;
  bucket: string;
  roomToken: string;
  server?: Spawned;
  worker?: Spawned;
  workerId: string;
  agent?: Spawned;
  agentUrl: string;
  agentToken: string;
}

function startServer(s: Stack): Promise<Spawned> {
  return spawnCli(
    ['server', '--host', '127.0.0.1', '--port', String(s.port), '--bucket', s.bucket, '--create-bucket', '--s3-endpoint', s.store!.endpoint, '--s3-region', s.store!.region],
    {
      waitFor: /listening on (http:\/\/\S+)/,
      built: true,
      // Secrets go by environment, never on a command line others can read.
      env: { SLEAP_RTC_ROOMS: `lab=${s.roomToken}`, SLEAP_RTC_S3_ACCESS_KEY: s.store!.accessKeyId, SLEAP_RTC_S3_SECRET_KEY: s.store!.secretAccessKey, SLEAP_RTC_CONFIG: '' },
    },
  );
}

function startWorker(s: Stack): Promise<Spawned> {
  return spawnCli(['worker', '--server', s.url, '--room', 'lab', '--s3-endpoint', s.store!.endpoint, '--s3-region', s.store!.region, '--bucket', s.bucket, '--data', join(s.dir, 'worker'), '--trainer', 'builtin'], {
    waitFor: /worker (\S+) registered in room lab/,
    built: true,
    env: { SLEAP_RTC_CONFIG: '', SLEAP_RTC_ROOM_TOKEN: s.roomToken, SLEAP_RTC_S3_ACCESS_KEY: s.store!.accessKeyId, SLEAP_RTC_S3_SECRET_KEY: s.store!.secretAccessKey },
  });
}

async function startAgent(s: Stack): Promise<void> {
  s.agent = await spawnCli(['agent', '--port', '0', '--data', join(s.dir, 'agent-data')], {
    waitFor: /agent listening on (http:\/\/\S+) \(token in (\S+)\)/,
    built: true,
    env: { SLEAP_RTC_SERVER: s.url, SLEAP_RTC_ROOM_TOKEN: s.roomToken, SLEAP_RTC_ROOM: 'lab', SLEAP_RTC_DATA: undefined, SLEAP_RTC_CONFIG: undefined },
  });
  s.agentUrl = s.agent.line[1];
  s.agentToken = (await readFile(s.agent.line[2], 'utf8')).trim();
}

/** One call to the agent's API; the body is the parsed JSON, for the caller to validate. */
async function api(s: Stack, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { authorization: `Bearer ${s.agentToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(s.agentUrl + path, { method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function poll<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const workersBody = z.object({ workers: z.array(peerInfo) });
const workerListed = (s: Stack, status?: string) => async () => {
  const r = await api(s, '/api/workers');
  if (r.status !== 200) return undefined;
  return workersBody.parse(r.body).workers.some((w) => w.peer_id === s.workerId && (status === undefined || w.metadata.properties.status === status)) ? true : undefined;
};

async function submit(s: Stack, dataset: string): Promise<{ id: string; sentAt: number }> {
  const sentAt = Date.now();
  const r = await api(s, '/api/jobs', { dataset, config: LONG });
  if (r.status !== 201) throw new Error(`POST /api/jobs answered ${r.status}: ${JSON.stringify(r.body)}`);
  return { id: jobView.parse(r.body).id, sentAt };
}

async function cancel(s: Stack, id: string): Promise<void> {
  const r = await api(s, `/api/jobs/${id}/commands`, { command: 'cancel' });
  if (r.status !== 200 && errorBody.safeParse(r.body).data?.error.code !== 'job_finished') throw new Error(`cancel of ${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
}

// ---- statistics and the table ------------------------------------------------------------------

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

interface Row {
  metric: string;
  samples: number[];
  unit: 'ms' | 's' | 'n';
  goal: string;
  /** Whether the goal is met, from the samples; undefined: no samples. */
  met?: (samples: number[]) => boolean;
  error?: string;
}

function cell(n: number | undefined, unit: Row['unit']): string {
  if (n === undefined || Number.isNaN(n)) return 'n/a';
  if (unit === 's') return `${(n / 1000).toFixed(2)} s`;
  if (unit === 'ms') return `${n.toFixed(0)} ms`;
  return String(n);
}

function table(rows: Row[]): string {
  const head = ['metric', 'samples', 'p50', 'p99', 'max', 'goal', 'met?'];
  const body = rows.map((r) => {
    const n = r.samples.length;
    const met = r.error ? `ERROR` : n === 0 || !r.met ? 'n/a' : r.met(r.samples) ? 'yes' : 'NO';
    return [r.metric, String(n), cell(n ? quantile(r.samples, 0.5) : undefined, r.unit), cell(n ? quantile(r.samples, 0.99) : undefined, r.unit), cell(n ? Math.max(...r.samples) : undefined, r.unit), r.goal, met];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

// ---- the measurements --------------------------------------------------------------------------

interface DatasetUse {
  paths?: Set<string>;
  warmCacheHits?: number;
  warmNewKeys?: number;
}

/** 1. POST /api/jobs -> the first progress event of that job on the SSE stream; the first (cold) run uploads the dataset. */
async function submitToProgress(s: Stack, tap: Tap, dataset: string, o: Options, cold: Row, warm: Row, datasetUse: DatasetUse): Promise<void> {
  for (let run = 0; run <= o.runs; run++) {
    tap.clear();
    const { id, sentAt } = await submit(s, dataset);
    const first = await tap.waitFor(isProgress(id), `the first progress event of ${id}`, 120_000);
    const ms = first.at - sentAt;
    (run === 0 ? cold : warm).samples.push(ms);
    // What the agent and the worker did with the dataset: a new upload (its own key) each time? a cache hit?
    const j = jobView.parse((await api(s, `/api/jobs/${id}`)).body);
    // The worker is training: the agent told it where the dataset is.
    if (j.dataset_s3_path === undefined) throw new Error(`job ${id} trains but names no dataset_s3_path: ${JSON.stringify(j)}`);
    const key = j.dataset_s3_path;
    const cacheHit = tap.events.some((r) => r.type === 'event' && r.job.id === id && r.event?.type === 'status' && (r.event as { message?: string }).message === CACHE_HIT_MESSAGE);
    const paths = (datasetUse.paths ??= new Set());
    if (run > 0) {
      datasetUse.warmCacheHits = (datasetUse.warmCacheHits ?? 0) + (cacheHit ? 1 : 0);
      datasetUse.warmNewKeys = (datasetUse.warmNewKeys ?? 0) + (paths.has(key) ? 0 : 1);
    }
    paths.add(key);
    console.error(
      `  submit->progress ${run === 0 ? 'cold' : `warm ${run}/${o.runs}`}: ${ms} ms; upload ${j.upload_id} -> ${j.dataset_s3_path}, worker cache ${cacheHit ? 'hit' : 'miss'} (load ${load()})`,
    );
    await cancel(s, id);
    await poll(workerListed(s, 'available'), 'a free worker');
  }
}

interface LatencyInfo {
  perSec?: number;
  seconds?: number;
  benchLoopMaxMs?: number;
  bursts?: Array<{ events: number; worstMs: number; madeOverMs: number; arrivedOverMs: number }>;
}
const LATE_MS = 50;

/** 2. Progress events of one job: receive time - the worker's event.t. */
async function eventLatency(s: Stack, tap: Tap, dataset: string, o: Options, row: Row, rate: LatencyInfo): Promise<void> {
  tap.clear();
  const { id } = await submit(s, dataset);
  const first = await tap.waitFor(isProgress(id), `the first progress event of ${id}`, 120_000);
  const from = first.at + LATENCY_WARMUP_MS;
  // This process's own event-loop delay while it collects: a stall here would show as latency too.
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const samples: Received[] = [];
  await tap.waitFor(
    (r) => {
      if (isProgress(id)(r) && r.at >= from) samples.push(r);
      return samples.length >= o.latencyEvents;
    },
    `${o.latencyEvents} progress events`,
    600_000,
  );
  loop.disable();
  await cancel(s, id);
  row.samples.push(...samples.map((r) => r.at - r.event!.t));
  const seconds = (samples.at(-1)!.at - samples[0].at) / 1000;
  rate.seconds = seconds;
  rate.perSec = (samples.length - 1) / seconds;
  rate.benchLoopMaxMs = loop.max / 1e6;
  // Late events come in bursts (a stall somewhere between the worker's clock read and the bench):
  // for each, how many events, the worst latency, how long the worker took to make them (t span)
  // and how long they took to arrive (receive span). Made spread out but arriving bunched: held
  // downstream of the event's creation (worker outbox/DataChannel, agent, or this process).
  rate.bursts = [];
  let cur: Received[] = [];
  const flush = () => {
    if (cur.length) rate.bursts!.push({ events: cur.length, worstMs: Math.max(...cur.map((r) => r.at - r.event!.t)), madeOverMs: cur.at(-1)!.event!.t - cur[0].event!.t, arrivedOverMs: cur.at(-1)!.at - cur[0].at });
    cur = [];
  };
  for (const r of samples) {
    if (r.at - r.event!.t > LATE_MS) cur.push(r);
    else flush();
  }
  flush();
  console.error(`  latency: ${samples.length} progress events in ${seconds.toFixed(1)} s (load ${load()})`);
  tap.clear();
  await poll(workerListed(s, 'available'), 'a free worker');
}

/** 3. kill -9 of the worker while it trains -> the SSE state event failed/worker_lost. */
async function killedWorker(s: Stack, tap: Tap, dataset: string, o: Options, row: Row): Promise<void> {
  for (let run = 1; run <= o.kills; run++) {
    tap.clear();
    const { id } = await submit(s, dataset);
    await tap.waitFor(isProgress(id), `the first progress event of ${id}`, 120_000);
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    s.worker!.child.kill('SIGKILL');
    const failed = await tap.waitFor((r) => r.type === 'state' && r.job.id === id && r.job.status === 'failed', `${id} reported failed`, 60_000);
    if (failed.job.error?.code !== 'worker_lost') throw new Error(`${id} failed with ${failed.job.error?.code}, not worker_lost: ${failed.job.error?.message}`);
    const ms = failed.at - killedAt;
    row.samples.push(ms);
    console.error(`  kill -9 worker ${run}/${o.kills}: failed (worker_lost) after ${ms} ms (load ${load()})`);
    await s.worker!.stop();
    // A fresh worker on the same data folder (same peer id, the dataset cache kept).
    s.worker = await startWorker(s);
    s.workerId = s.worker.line[1];
    await poll(workerListed(s, 'available'), 'the new worker, free');
  }
}

/** 4. SIGTERM the server while a job trains, start it again on the same port. */
async function serverRestart(s: Stack, tap: Tap, dataset: string, o: Options, rows: { reregister: Row; whileDown: Row; gap: Row; downtime: Row }): Promise<void> {
  for (let run = 1; run <= o.restarts; run++) {
    tap.clear();
    const { id } = await submit(s, dataset);
    await tap.waitFor(isProgress(id), `the first progress event of ${id}`, 120_000);
    await new Promise((r) => setTimeout(r, 1000));
    const stopAt = Date.now();
    await s.server!.stop('SIGTERM');
    const exitedAt = Date.now();
    s.server = await startServer(s);
    const listeningAt = Date.now();
    await poll(workerListed(s), 'the worker listed again after the restart', 60_000, 50);
    const listedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    const progress = tap.events.filter(isProgress(id));
    const window = progress.filter((r) => r.at >= stopAt - 1000 && r.at <= listedAt + 1000).map((r) => r.at);
    let gap = 0;
    for (let i = 1; i < window.length; i++) gap = Math.max(gap, window[i] - window[i - 1]);
    // Also the gap from the window's edges, should progress have stopped altogether.
    if (window.length === 0) gap = listedAt - stopAt + 2000;
    const down = progress.filter((r) => r.at > exitedAt && r.at < listeningAt).length;
    await cancel(s, id);
    rows.reregister.samples.push(listedAt - listeningAt);
    rows.whileDown.samples.push(down);
    rows.gap.samples.push(gap);
    rows.downtime.samples.push(listeningAt - exitedAt);
    console.error(
      `  server restart ${run}/${o.restarts}: SIGTERM->exit ${exitedAt - stopAt} ms, down (exit->listening) ${listeningAt - exitedAt} ms, ` +
        `worker listed again ${listedAt - listeningAt} ms after listening, ${down} progress events while down, longest progress gap ${gap} ms (load ${load()})`,
    );
    await poll(workerListed(s, 'available'), 'a free worker');
  }
}

export async function main(args: string[]): Promise<number> {
  const o = parseOptions(args);
  const s: Stack = { dir: await mkdtemp(join(tmpdir(), 'sleap-rtc-bench-jobs-')), port: 0, url: '', bucket: `bench-${randomBytes(4).toString('hex')}`, roomToken: randomBytes(16).toString('hex'), workerId: '', agentUrl: '', agentToken: '' };
  const rows = {
    cold: { metric: 'submit -> first progress, cold (upload + worker download)', samples: [], unit: 's', goal: '(reference)' } as Row,
    warm: { metric: 'submit -> first progress, warm (worker cache hit)', samples: [], unit: 's', goal: '<= 2 s', met: (x) => Math.max(...x) <= 2000 } as Row,
    latency: { metric: 'worker event -> agent SSE latency', samples: [], unit: 'ms', goal: 'p99 <= 50 ms', met: (x) => quantile(x, 0.99) <= 50 } as Row,
    killed: { metric: 'kill -9 worker -> SSE failed (worker_lost)', samples: [], unit: 's', goal: '<= 5 s', met: (x) => Math.max(...x) <= 5000 } as Row,
    downtime: { metric: 'server down (exit -> new "listening")', samples: [], unit: 's', goal: '(reference)' } as Row,
    reregister: { metric: 'restart: "listening" -> worker listed by agent', samples: [], unit: 's', goal: '<= 10 s', met: (x) => Math.max(...x) <= 10_000 } as Row,
    whileDown: { metric: 'restart: progress events while server down', samples: [], unit: 'n', goal: '> 0 each run', met: (x) => Math.min(...x) > 0 } as Row,
    gap: { metric: 'restart: longest progress gap across restart', samples: [], unit: 'ms', goal: '< downtime', met: () => true } as Row,
  };
  const rate: LatencyInfo = {};
  const datasetUse: DatasetUse = {};
  const loadStart = load();
  let datasetNote = '';
  let datasetSize = 0;
  let tap: Tap | undefined;
  // Children die with the bench, even when it is interrupted.
  const killAll = () => {
    for (const p of [s.agent, s.worker, s.server]) if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const onSignal = (sig: NodeJS.Signals) => {
    killAll();
    // Best effort on the way out (neither step can reject here); the exit comes either way, also
    // when the store was not started yet.
    void (async () => {
      await s.store?.kill9().catch(() => undefined);
      await rm(s.dir, { recursive: true, force: true }).catch(() => undefined);
    })().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let failure: string | undefined;
  try {
    const dataset = join(s.dir, 'labels.pkg.slp');
    if (sharedSleapDir) {
      await copyFile(join(sharedSleapDir, 'minimal_instance.pkg.slp'), dataset);
      datasetNote = '../shared/data/sleap/minimal_instance.pkg.slp';
    } else {
      await writeSyntheticSlp(dataset, { frames: 20, instancesPerFrame: 1, nodes: 3, embedded: true });
      datasetNote = 'synthetic .pkg.slp (20 frames, 3 nodes; ../shared absent)';
    }
    datasetSize = (await stat(dataset)).size;
    console.error(`starting store, server, worker, agent (built dist/cli.js; load ${loadStart}) ...`);
    s.store = await startEmbeddedStore({ built: true });
    s.port = await freePort();
    s.url = `http://127.0.0.1:${s.port}`;
    s.server = await startServer(s);
    s.worker = await startWorker(s);
    s.workerId = s.worker.line[1];
    await startAgent(s);
    tap = await Tap.open(s.agentUrl, s.agentToken);
    await poll(workerListed(s, 'available'), 'the worker, free, listed by the agent');

    const phases: Array<[string, () => Promise<void>, Row[]]> = [
      ['submit -> first progress', () => submitToProgress(s, tap!, dataset, o, rows.cold, rows.warm, datasetUse), [rows.cold, rows.warm]],
      ['event latency', () => eventLatency(s, tap!, dataset, o, rows.latency, rate), [rows.latency]],
      ['killed worker', () => killedWorker(s, tap!, dataset, o, rows.killed), [rows.killed]],
      ['server restart', () => serverRestart(s, tap!, dataset, o, rows), [rows.downtime, rows.reregister, rows.whileDown, rows.gap]],
    ];
    for (const [name, run, affected] of phases) {
      console.error(`${name} ...`);
      try {
        await run();
      } catch (e) {
        console.error(`  ${name} failed: ${msg(e)}`);
        for (const r of affected) r.error ??= msg(e);
        failure ??= `${name}: ${msg(e)}`;
        // The stack may be broken (e.g. no worker); the later phases would only time out.
        if (!s.worker || s.worker.child.exitCode !== null || s.worker.child.signalCode !== null || !s.server || s.server.child.exitCode !== null) break;
        await poll(workerListed(s, 'available'), 'a free worker', 30_000).catch(() => undefined);
      }
    }
  } catch (e) {
    failure ??= msg(e);
    console.error(`bench jobs: ${msg(e)}`);
    for (const p of [s.agent, s.worker, s.server]) if (p) console.error(p.stderrTail());
  } finally {
    tap?.close();
    await s.agent?.stop().catch(() => undefined);
    await s.worker?.stop().catch(() => undefined);
    await s.server?.stop().catch(() => undefined);
    await s.store?.stop().catch(() => undefined);
    await rm(s.dir, { recursive: true, force: true });
    process.removeListener('exit', killAll);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  const gapGoal = rows.downtime.samples.length === rows.gap.samples.length && rows.gap.samples.length > 0;
  if (gapGoal) rows.gap.met = (x) => x.every((g, i) => g < rows.downtime.samples[i]);
  const all = [rows.cold, rows.warm, rows.latency, rows.killed, rows.downtime, rows.reregister, rows.whileDown, rows.gap];
  console.log(`\njobs benchmark: store, server (port ${s.port}, room lab), 1 builtin worker, agent (built dist/cli.js, each its own process), loopback; dataset ${datasetNote}`);
  console.log(`load average (1/5/15 min): ${loadStart} at start, ${load()} at end; ${(await import('node:os')).cpus().length} cores`);
  console.log(table(all));
  if (rate.perSec !== undefined) console.log(`  latency: ${rows.latency.samples.length} progress events of one job (${JSON.stringify(LONG.trainer_config)}), first ${LATENCY_WARMUP_MS} ms after its first event left out; ${rate.perSec.toFixed(0)} events/s over ${rate.seconds!.toFixed(1)} s`);
  if (rate.bursts) {
    const worst = [...rate.bursts].sort((a, b) => b.worstMs - a.worstMs).slice(0, 3);
    console.log(
      `  latency: ${rate.bursts.reduce((a, b) => a + b.events, 0)} events over ${LATE_MS} ms in ${rate.bursts.length} burst(s)` +
        (worst.length ? `; worst: ${worst.map((b) => `${b.events} events up to ${b.worstMs} ms, made over ${b.madeOverMs} ms, arrived over ${b.arrivedOverMs} ms`).join('; ')}` : '') +
        `; the bench's own event-loop delay max ${rate.benchLoopMaxMs!.toFixed(0)} ms`,
    );
  }
  console.log(
    `  submit -> first progress: POST /api/jobs with the local path each time (${datasetSize} bytes); the cold run is the first upload and the worker's download; ` +
      `warm runs: ${datasetUse.warmNewKeys ?? 0}/${rows.warm.samples.length} uploaded the file again to a new key, ` +
      `${datasetUse.warmCacheHits ?? 0}/${rows.warm.samples.length} hit the worker's dataset cache (same SHA-256)`,
  );
  console.log(`  restart: server SIGTERM'd ~1 s into a job and started again on the same port; gap = longest interval between progress events from 1 s before the SIGTERM to 1 s after the worker was listed again`);
  for (const r of all) if (r.error) console.log(`  ${r.metric}: ERROR ${r.error}`);
  if (failure) console.log(`bench jobs did not finish every measurement: ${failure}`);
  return failure ? 1 : 0;
}
