// `npm run bench -- store [--size-mib N] [--runs N] [--part-mib N] [--concurrency N] [--targets embedded,rgw] [--no-ram] [--together]`
//
// Uploads one random file (1 GiB by default, generated once into a temp folder) as 64 MiB parts,
// 8 in parallel, by presigned UploadPart URLs to the embedded store and to Ceph RGW, and prints
// medians of throughput plus the server's peak RSS and CPU time and the client's CPU time.
//
// By default each target is measured alone: started, one warm-up upload (not counted), N
// uploads, stopped, then the next. `--together` starts every target first and alternates the
// runs (embedded, rgw, rgw, embedded, ...), which spreads a drifting machine load over both and
// measures each beside the others (RGW's memstore OSD keeps 0.6-2.4 GiB resident after an
// upload). Side by side, the store's page-cache writes once ran 20-30 % slower on this VM
// (`perf` put the time in copy_folio_from_iter_atomic: 15 % of samples, 2 % alone); since the
// store writes large bodies with O_DIRECT, that slowdown has not been seen.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { makeS3Client } from '../src/core/s3client.js';
import type { RgwTarget } from '../test/support/rgw.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../test/support/store.js';
import { s3Targets, type S3Target } from '../test/support/targets.js';
import { labelled, presignedUpload } from './presignedUpload.js';
import { cpuSecondsSince, currentRss, peakRss, pidsFromPidFiles, processCpuSeconds, processName, resetPeakRss } from './procStats.js';
import { writeRandomFile } from './randomFile.js';
import { benchFlags } from './args.js';
import { execFileSync } from 'node:child_process';

const MiB = 1024 * 1024;
const RSS_GOAL_MIB = 150;

interface Options {
  sizeMib: number;
  runs: number;
  partMib: number;
  concurrency: number;
  targets: string[];
  /** Also run the store with its data folder on tmpfs (default on; --no-ram). */
  ram: boolean;
  /** Every target up at once, runs alternating (--together); otherwise one target at a time. */
  together: boolean;
}

interface Run {
  mibPerSec: number;
  serverPeakMib: number | undefined;
  /** Peak per server process, by name, for the footnotes. */
  perProcess: Record<string, number>;
  clientCpuSec: number;
  /** CPU seconds the server's processes used during the upload (all threads). */
  serverCpuSec: number | undefined;
}

interface Row {
  target: string;
  runs: Run[];
  error?: string;
  rssNote?: string;
  /** Server RSS (MiB, summed over its processes) before the first run. */
  idleRssMib?: number;
}

function parseOptions(args: string[]): Options {
  const f = benchFlags(args, { ints: { 'size-mib': 1024, runs: 3, 'part-mib': 64, concurrency: 8 }, strings: { targets: s3Targets().map((t) => t.name).join(',') }, booleans: ['no-ram', 'together'] });
  const o: Options = { sizeMib: f['size-mib'], runs: f.runs, partMib: f['part-mib'], concurrency: f.concurrency, targets: f.targets.split(',').filter(Boolean), ram: !f['no-ram'], together: f.together };
  if (o.partMib < 5 && o.sizeMib > o.partMib) throw new Error('--part-mib must be at least 5 (S3 minimum part size)');
  return o;
}

/**
 * The server processes whose memory we report: the embedded store's own pid (EmbeddedStoreTarget.pid),
 * RGW's radosgw + ceph-osd from the Ceph pid files under its state folder (RgwTarget.dir).
 */
function serverPids(target: S3Target): { pids: number[]; note?: string } {
  if ('pid' in target && typeof (target as EmbeddedStoreTarget).pid === 'number') return { pids: [(target as EmbeddedStoreTarget).pid] };
  if ('dir' in target && typeof (target as RgwTarget).dir === 'string') {
    const dir = (target as RgwTarget).dir;
    const pids = pidsFromPidFiles(join(dir, 'run')).filter((p) => ['radosgw', 'ceph-osd'].includes(processName(p) ?? ''));
    if (pids.length > 0) return { pids };
    return { pids: [], note: `no radosgw/ceph-osd pid files readable under ${dir}/run` };
  }
  return { pids: [], note: `the ${target.name} target exposes neither pid nor dir: server RSS n/a` };
}

/** RGW frees deleted data only when its GC runs (RgwTarget.gc); other targets need nothing. */
async function gc(target: S3Target): Promise<void> {
  if ('gc' in target && typeof (target as RgwTarget).gc === 'function') await (target as RgwTarget).gc();
}

interface Bench {
  target: S3Target;
  s3: ReturnType<typeof makeS3Client>;
  bucket: string;
  row: Row;
}

async function setUp(target: S3Target, name = target.name): Promise<Bench> {
  // The control calls (create, complete, head, delete) may retry: their kept-alive sockets idle
  // while the other targets run, and one reused just as the server closes it fails with no fault
  // of either side. The part PUTs, which are what is measured, never retry (presignedUpload).
  const s3 = makeS3Client({ endpoint: target.endpoint, region: target.region, accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey }, { maxAttempts: 3 });
  const b: Bench = { target, s3, bucket: `bench-${Date.now().toString(36)}`, row: { target: name, runs: [] } };
  try {
    await s3.send(new CreateBucketCommand({ Bucket: b.bucket }));
    const idle = serverPids(target).pids.map(currentRss);
    if (idle.length && idle.every((x) => x !== undefined)) b.row.idleRssMib = (idle as number[]).reduce((a, c) => a + c, 0) / MiB;
  } catch (e) {
    b.row.error = e instanceof Error ? e.message : String(e);
  }
  return b;
}

/** One upload; run 0 is the warm-up: measured and printed, not counted. */
async function runOnce(b: Bench, file: string, o: Options, run: number): Promise<void> {
  const { target, s3, bucket, row } = b;
  if (row.error) return;
  const size = o.sizeMib * MiB;
  try {
    // Flush dirty pages first (the fresh source file, the other target's objects), so that no
    // target pays for another's write-back.
    execFileSync('sync');
    const { pids, note } = serverPids(target);
    row.rssNote = note;
    const resettable = pids.every(resetPeakRss);
    if (!resettable) row.rssNote = 'VmHWM could not be reset between runs: peaks are since process start';
    // Fresh connections for each run: a kept-alive socket left idle while the other targets ran
    // may be closed by the server just as a part starts on it (EPIPE), which is no measure of either.
    const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
    const key = `bench/run-${run}.bin`;
    const serverCpu0 = pids.map(processCpuSeconds);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await presignedUpload({ s3, bucket, key, file, size, partSize: o.partMib * MiB, concurrency: o.concurrency, agent }).finally(() => agent.destroy());
    const seconds = (performance.now() - t0) / 1000;
    const clientCpuSec = cpuSecondsSince(cpu0);
    const serverCpu1 = pids.map(processCpuSeconds);
    const serverCpuSec = pids.length && [...serverCpu0, ...serverCpu1].every((x) => x !== undefined) ? serverCpu1.reduce<number>((a, c, i) => a + c! - serverCpu0[i]!, 0) : undefined;
    const perProcess: Record<string, number> = {};
    let serverPeak: number | undefined = pids.length ? 0 : undefined;
    for (const pid of pids) {
      const peak = peakRss(pid);
      if (peak === undefined || serverPeak === undefined) {
        serverPeak = undefined;
        continue;
      }
      serverPeak += peak;
      const name = processName(pid) ?? String(pid);
      perProcess[name] = (perProcess[name] ?? 0) + peak / MiB;
    }
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch(labelled('HeadObject'));
    if (head.ContentLength !== size) throw new Error(`uploaded object has ${head.ContentLength} bytes, expected ${size}`);
    if (!head.ETag?.endsWith(`-${r.parts}"`)) throw new Error(`uploaded object has ETag ${head.ETag}, expected a ${r.parts}-part ETag`);
    const result: Run = { mibPerSec: o.sizeMib / seconds, serverPeakMib: serverPeak === undefined ? undefined : serverPeak / MiB, perProcess, clientCpuSec, serverCpuSec };
    if (run > 0) row.runs.push(result);
    console.error(
      `  ${b.row.target} ${run > 0 ? `run ${run}/${o.runs}` : 'warm-up (not counted)'}: ${result.mibPerSec.toFixed(1)} MiB/s, ${seconds.toFixed(2)} s, ${r.parts} parts, ` +
        `server peak ${fmt(result.serverPeakMib, 0)} MiB, server CPU ${fmt(serverCpuSec, 2)} s, client CPU ${clientCpuSec.toFixed(2)} s`,
    );
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(labelled('DeleteObject'));
    await gc(target);
  } catch (e) {
    row.error = e instanceof Error ? e.message : String(e);
    // The server's own account of it, when it has one (the embedded store's stderr).
    const tail = 'stderrTail' in target ? telling((target as EmbeddedStoreTarget).stderrTail()) : [];
    if (tail.length) row.error += `\n    server stderr (tail): ${tail.slice(-12).join('\n    ')}`;
  }
}

async function tearDown(b: Bench): Promise<void> {
  await b.s3.send(new DeleteBucketCommand({ Bucket: b.bucket })).catch(() => undefined);
  b.s3.destroy();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function fmt(n: number | undefined, digits: number): string {
  return n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);
}

function summary(row: Row) {
  const tp = row.runs.map((r) => r.mibPerSec);
  const rss = row.runs.map((r) => r.serverPeakMib);
  return {
    median: tp.length ? median(tp) : undefined,
    min: tp.length ? Math.min(...tp) : undefined,
    max: tp.length ? Math.max(...tp) : undefined,
    // The peak over all runs: what the machine must have.
    rss: rss.length && rss.every((x) => x !== undefined) ? Math.max(...(rss as number[])) : undefined,
    cpu: row.runs.length ? median(row.runs.map((r) => r.clientCpuSec)) : undefined,
    serverCpu: row.runs.length && row.runs.every((r) => r.serverCpuSec !== undefined) ? median(row.runs.map((r) => r.serverCpuSec!)) : undefined,
  };
}

function table(rows: Row[]): string {
  const head = ['target', 'MiB/s median', 'min', 'max', 'server peak RSS MiB', 'server CPU s', 'client CPU s'];
  const body = rows.map((row) => {
    const s = summary(row);
    return [row.target, fmt(s.median, 1), fmt(s.min, 1), fmt(s.max, 1), fmt(s.rss, 0), fmt(s.serverCpu, 2), fmt(s.cpu, 2)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function goal(rows: Row[], embedded = 'embedded'): string {
  const e = rows.find((r) => r.target === embedded);
  const g = rows.find((r) => r.target === 'rgw');
  const es = e && !e.error ? summary(e) : undefined;
  const gs = g && !g.error ? summary(g) : undefined;
  const why: string[] = [];
  if (es?.rss === undefined) why.push('embedded RSS unknown');
  else if (es.rss >= RSS_GOAL_MIB) why.push(`embedded RSS ${es.rss.toFixed(0)} MiB >= ${RSS_GOAL_MIB}`);
  if (es?.median === undefined || gs?.median === undefined) why.push('a throughput is missing');
  else if (es.median < gs.median) why.push(`embedded ${es.median.toFixed(1)} < rgw ${gs.median.toFixed(1)} MiB/s`);
  return `goal: ${embedded} RSS < ${RSS_GOAL_MIB} MiB and throughput >= RGW's: ${why.length ? `FAIL (${why.join('; ')})` : 'PASS'}`;
}

/** The store's log lines worth showing after a failure: all but its successful requests. */
function telling(stderr: string): string[] {
  return stderr.split('\n').filter((line) => {
    if (!line.trim()) return false;
    try {
      const j = JSON.parse(line) as { msg?: string; status?: number };
      return !(j.msg === 'request' && typeof j.status === 'number' && j.status < 400);
    } catch {
      return true;
    }
  });
}

/** The embedded stores log every request, so that a failed run can show the store's account of it. */
const DEBUG_LOG = ['--log-level', 'debug'];

interface TargetSpec {
  name: string;
  start: () => Promise<S3Target>;
}

/** Starts a target and makes its bucket; a failure becomes the target's row. */
async function bring(spec: TargetSpec, rows: Row[]): Promise<Bench | undefined> {
  console.error(`starting ${spec.name} ...`);
  try {
    return await setUp(await spec.start(), spec.name);
  } catch (e) {
    rows.push({ target: spec.name, runs: [], error: `start failed: ${e instanceof Error ? e.message : String(e)}` });
    return undefined;
  }
}

async function takeDown(b: Bench, rows: Row[]): Promise<void> {
  rows.push(b.row);
  await tearDown(b);
  await b.target.stop().catch((e: unknown) => console.error(`stopping ${b.target.name} failed:`, e));
}

export async function main(args: string[]): Promise<number> {
  const o = parseOptions(args);
  const factories = s3Targets().filter((t) => o.targets.includes(t.name));
  if (factories.length === 0) throw new Error(`no target among ${o.targets.join(',')}`);
  const dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-bench-'));
  const file = join(dir, `random-${o.sizeMib}MiB.bin`);
  const rows: Row[] = [];
  let ramDir: string | undefined;
  try {
    const g0 = performance.now();
    await writeRandomFile(file, o.sizeMib * MiB);
    console.error(`generated ${o.sizeMib} MiB of random bytes in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
    const specs: TargetSpec[] = [];
    for (const factory of factories) {
      specs.push({ name: factory.name, start: () => (factory.name === 'embedded' ? startEmbeddedStore({ built: true, extraArgs: DEBUG_LOG }) : factory.start({ built: true })) });
      // RGW's OSD here is memstore: it keeps objects in RAM. The like-for-like comparison is the
      // same store with its data folder in RAM too (tmpfs), fsyncs and all.
      if (factory.name === 'embedded' && o.ram && existsSync('/dev/shm')) {
        specs.push({
          name: 'embedded-ram',
          start: async () => {
            ramDir = await mkdtemp('/dev/shm/sleap-rtc-bench-store-');
            return startEmbeddedStore({ built: true, dataDir: ramDir, extraArgs: DEBUG_LOG });
          },
        });
      }
    }
    if (o.together) {
      const benches: Bench[] = [];
      try {
        for (const spec of specs) {
          const b = await bring(spec, rows);
          if (b) benches.push(b);
        }
        for (const b of benches) await runOnce(b, file, o, 0);
        for (let run = 1; run <= o.runs; run++) {
          for (const b of run % 2 ? benches : [...benches].reverse()) await runOnce(b, file, o, run);
        }
      } finally {
        for (const b of benches) await takeDown(b, rows);
      }
    } else {
      for (const spec of specs) {
        const b = await bring(spec, rows);
        if (!b) continue;
        try {
          for (let run = 0; run <= o.runs; run++) await runOnce(b, file, o, run);
        } finally {
          await takeDown(b, rows);
          if (spec.name === 'embedded-ram' && ramDir) await rm(ramDir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (ramDir) await rm(ramDir, { recursive: true, force: true });
  }

  console.log(`\nstore benchmark: ${o.sizeMib} MiB file, ${o.partMib} MiB parts x ${o.concurrency} parallel, presigned UploadPart PUTs streamed from disk (node:http), ${o.runs} run(s) per target after one warm-up, loopback`);
  console.log(
    o.together
      ? 'targets: all up at once, runs alternating (--together): each is measured beside the others, which hold RAM and share the disk'
      : 'targets: one at a time (each started, measured, stopped before the next), so none runs beside another server; --together runs them side by side',
  );
  console.log(table(rows));
  for (const row of rows) {
    if (row.error) console.log(`  ${row.target}: ERROR ${row.error}`);
    if (row.rssNote) console.log(`  ${row.target}: ${row.rssNote}`);
    if (row.idleRssMib !== undefined) console.log(`  ${row.target}: server RSS before the first upload ${row.idleRssMib.toFixed(0)} MiB`);
    const last = row.runs.at(-1);
    if (last && Object.keys(last.perProcess).length > 1) {
      console.log(`  ${row.target}: server RSS is the sum of per-process peaks (last run: ${Object.entries(last.perProcess).map(([n, m]) => `${n} ${m.toFixed(0)} MiB`).join(', ')})`);
    }
    if (row.target === 'rgw') console.log('  rgw: its OSD is memstore, so ceph-osd RSS includes the stored object bytes themselves');
    if (row.target === 'embedded') console.log('  embedded: runs the built dist/cli.js, as users do; data folder on disk (every part fsynced)');
    if (row.target === 'embedded-ram') console.log('  embedded-ram: the same store with its data folder on tmpfs, as RGW memstore keeps its objects in RAM');
  }
  console.log(goal(rows));
  if (rows.some((r) => r.target === 'embedded-ram')) console.log(`${goal(rows, 'embedded-ram')} (like for like: both hold the data in RAM)`);
  return rows.some((r) => r.error) ? 1 : 0;
}
