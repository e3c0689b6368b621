// `npm run bench -- soak`: many big uploads at once through the agent, under random faults for a
// bounded time. The embedded store behind the fault proxy (test/support/faultProxy.ts: resets
// mid-body, stalled bodies, 503 SlowDown and 500 answers, each part PUT faulted with probability
// --fault-pct % for --fault-s seconds, then none: faults that come with the traffic, seeded),
// `sleap-rtc server` signing URLs for the proxy, one agent (the built dist/cli.js, as users run
// it) given every file at once by POST /api/uploads. Checks that every upload completes and that
// every object read back has its file's SHA-256; samples the agent's RSS every second and reports
// whether it stays flat (its peak in the last third of the run against the first third after a
// warm-up).
// Flags: --files N (10) --size-mib N (1024) --fault-s N (120) --fault-pct N (10) --seed N (1)
//        --limit-s N (1800)
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { makeS3Client } from '../src/core/s3client.js';
import { seededRandom } from '../src/worker/trainers/builtin/random.js';
import { startAgentProcess, writeBigZip } from '../test/agent/support/env.js';
import { startFaultProxy, type FaultAction } from '../test/support/faultProxy.js';
import { startServerProcess } from '../test/support/server.js';
import { startEmbeddedStore } from '../test/support/store.js';
import { benchFlags } from './args.js';
import { currentRss } from './procStats.js';
import { sha256Of } from './upload.js';

const MiB = 1024 * 1024;

export async function main(args: string[]): Promise<number> {
  const f = benchFlags(args, { ints: { files: 10, 'size-mib': 1024, 'fault-s': 120, 'fault-pct': 10, seed: 1, 'limit-s': 1800 } });
  const dir = await mkdtemp(join(tmpdir(), 'bench-soak-'));
  console.log(`writing ${f.files} files of ${f['size-mib']} MiB ...`);
  const files: { path: string; sha256: string }[] = [];
  for (let i = 0; i < f.files; i++) {
    // The agent takes datasets (.slp, .pkg.slp, .zip, folders): a .zip of random blocks.
    const path = join(dir, `soak-${i}.zip`);
    await writeBigZip(path, f['size-mib'] * MiB);
    files.push({ path, sha256: await sha256Of(createReadStream(path)) });
  }
  console.log('starting the embedded store, the fault proxy, the server and the agent (built) ...');
  const store = await startEmbeddedStore({ built: true });
  const proxy = await startFaultProxy(store.endpoint);
  const srv = await startServerProcess(store, ['--s3-public-endpoint', proxy.url], { built: true });
  const agent = await startAgentProcess({ SLEAP_RTC_SERVER: srv.url, SLEAP_RTC_ROOM_TOKEN: srv.rooms.lab, SLEAP_RTC_DATA: undefined, SLEAP_RTC_CONFIG: undefined }, join(dir, 'agent-data'), [], true);
  const pid = agent.proc.child.pid!;
  const s3 = makeS3Client(store);

  const rss: { t: number; bytes: number }[] = [];
  const faults: Record<string, number> = {};
  const t0 = performance.now();
  const sampler = setInterval(() => {
    const b = currentRss(pid);
    if (b !== undefined) rss.push({ t: (performance.now() - t0) / 1000, bytes: b });
  }, 1000);
  // Random faults into part PUTs, each with probability fault-pct % (one rule that never retires,
  // so faults follow the traffic: a queue of one-shot faults would all land on the part being
  // retried), for the fault period.
  const rnd = seededRandom(f.seed);
  const actions = (): FaultAction => {
    const r = rnd();
    const a: FaultAction =
      r < 0.35
        ? { kind: 'reset', afterBytes: Math.floor(rnd() * 4 * MiB) }
        : r < 0.5
          ? { kind: 'stall', afterBytes: Math.floor(rnd() * 4 * MiB) }
          : r < 0.8
            ? { kind: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' }
            : { kind: 'status', status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' };
    const name = a.kind === 'status' ? String(a.status) : a.kind;
    faults[name] = (faults[name] ?? 0) + 1;
    return a;
  };
  proxy.add({ method: 'PUT', pathIncludes: 'partNumber=', times: Infinity, chance: f['fault-pct'] / 100, random: rnd, action: actions });
  const countPartPuts = (): number => proxy.requests.filter((r) => r.method === 'PUT' && r.partNumber !== undefined).length;
  // Part PUTs in the fault period (all of them when the uploads ended first).
  let partPuts: number | undefined;
  const stopFaults = setTimeout(() => {
    proxy.clearRules();
    partPuts = countPartPuts();
    console.log(`  faults stopped after ${f['fault-s']} s: ${JSON.stringify(faults)}`);
  }, f['fault-s'] * 1000);

  let failure: string | undefined;
  const done: { path: string; key: string; bucket: string; seconds: number }[] = [];
  try {
    const ids = new Map<string, string>();
    for (const file of files) {
      const r = await agent.api('/api/uploads', { body: { path: file.path } });
      if (r.status !== 201 && r.status !== 200) throw new Error(`POST /api/uploads answered ${r.status}: ${JSON.stringify(r.body)}`);
      ids.set(r.body.id as string, file.path);
    }
    console.log(`  ${ids.size} uploads added; waiting for them (limit ${f['limit-s']} s) ...`);
    const deadline = performance.now() + f['limit-s'] * 1000;
    let lastReport = 0;
    while (done.length < ids.size) {
      if (performance.now() > deadline) throw new Error(`not every upload completed within ${f['limit-s']} s (${done.length} of ${ids.size})`);
      const list = (await agent.api('/api/uploads')).body.uploads as Array<{ id: string; state: string; bytes_done: number; size: number; key?: string; bucket?: string; error?: { message: string } }>;
      for (const u of list) {
        if (!ids.has(u.id) || done.some((d) => d.path === ids.get(u.id))) continue;
        if (u.state === 'completed') {
          done.push({ path: ids.get(u.id)!, key: u.key!, bucket: u.bucket!, seconds: (performance.now() - t0) / 1000 });
          // RSS is sampled while uploads run, not during the read-back below.
          if (done.length === ids.size) clearInterval(sampler);
        }
        else if (u.state === 'failed') throw new Error(`upload of ${ids.get(u.id)} failed: ${u.error?.message ?? '?'}`);
      }
      if (performance.now() - lastReport > 15_000) {
        lastReport = performance.now();
        const moved = list.filter((u) => ids.has(u.id)).reduce((n, u) => n + u.bytes_done, 0);
        console.log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${done.length}/${ids.size} complete, ${(moved / MiB).toFixed(0)} MiB done, agent RSS ${((rss.at(-1)?.bytes ?? 0) / MiB).toFixed(0)} MiB`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const d of done) {
      const got = await s3.send(new GetObjectCommand({ Bucket: d.bucket, Key: d.key }));
      const sum = await sha256Of(got.Body as NodeJS.ReadableStream);
      const want = files.find((x) => x.path === d.path)!.sha256;
      if (sum !== want) throw new Error(`${d.path}: the object read back has SHA-256 ${sum}, the file ${want}`);
    }
  } catch (e) {
    failure = (e as Error).message;
  } finally {
    clearInterval(sampler);
    clearTimeout(stopFaults);
    s3.destroy();
    await agent.proc.stop();
    await srv.stop();
    await proxy.close();
    await store.stop();
    await rm(dir, { recursive: true, force: true });
  }

  // The uploads' time: from the start to the last one complete (not the read-back and shutdown).
  const total = done.length > 0 ? Math.max(...done.map((d) => d.seconds)) : (performance.now() - t0) / 1000;
  const faultedS = Math.min(f['fault-s'], total);
  const mib = (b: number): string => (b / MiB).toFixed(0);
  const warm = rss.filter((s) => s.t >= 10);
  const third = Math.max(1, Math.floor(warm.length / 3));
  const first = warm.slice(0, third);
  const last = warm.slice(-third);
  const peak = (xs: { bytes: number }[]): number => Math.max(...xs.map((s) => s.bytes));
  console.log(`\n### Soak: ${f.files} uploads of ${f['size-mib']} MiB at once through the agent, random faults for ${faultedS.toFixed(0)} s`);
  console.log(`\nThe embedded store behind the fault proxy (resets mid-body, stalls, 503 SlowDown, 500: each part PUT faulted with probability ${f['fault-pct']} % for the first ${faultedS.toFixed(0)} s, seed ${f.seed}; ${Object.values(faults).reduce((a, b) => a + b, 0)} faults in ${partPuts ?? countPartPuts()} part PUTs: ${JSON.stringify(faults)}), one agent (dist/cli.js) with every file added at once. Command: \`npm run bench -- soak\`.\n`);
  console.log('| result | uploads complete, SHA-256 equal | time to the last upload (s) | MiB/s (all) | agent RSS first third (peak, MiB) | last third (peak, MiB) | max (MiB) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(`| ${failure ? `FAILED: ${failure}` : 'all complete'} | ${done.length} of ${f.files} | ${total.toFixed(0)} | ${((done.length * f['size-mib']) / total).toFixed(1)} | ${first.length ? mib(peak(first)) : '-'} | ${last.length ? mib(peak(last)) : '-'} | ${rss.length ? mib(peak(rss)) : '-'} |`);
  if (first.length && last.length) {
    const growth = peak(last) / peak(first) - 1;
    console.log(`\nheadline: soak, ${f.files} x ${f['size-mib']} MiB at once under random faults: ${failure ? `FAILED (${failure})` : `${done.length}/${f.files} complete, checksums equal`}; agent RSS peak ${mib(peak(first))} MiB in the first third, ${mib(peak(last))} MiB in the last (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(0)} %)`);
  }
  return failure ? 1 : 0;
}
