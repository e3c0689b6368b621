// `npm run bench -- python [--events N] [--hidden-units N]`
//
// The Python client (clients/python) against a real stack (`sleap-rtc stack` from dist/cli.js, all
// ports picked by the kernel, a throwaway data folder): Debian's python3 runs
// clients/python/bench_events.py, which prints the client's import time and the time from the
// worker sending an event to `job.events()` giving it. In the same run, a Node reader of the
// agent's SSE stream (AgentClient.openEvents, what the extension uses) times the same events, so
// the Python client's own share shows beside the agent's.
// Prints measurements; asserts nothing about time.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../src/core/AgentClient.js';
import { repoRoot, runToEnd, spawnCli } from '../test/support/proc.js';
import { sharedSleapDir, writeSyntheticSlp } from '../test/support/slpFixtures.js';
import { benchFlags } from './args.js';

const PYTHON = '/usr/bin/python3';
/** Events read this long after the job's first progress are left out (link setup, replay), as bench_events.py does. */
const WARMUP_MS = 1000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round((p / 100) * (s.length - 1)))];
}

export async function main(args: string[]): Promise<number> {
  const f = benchFlags(args, { ints: { events: 2000, 'hidden-units': 2048 } });
  if (!existsSync(PYTHON)) {
    console.error(`${PYTHON} is missing: the Python client is measured with Debian's python3 (scripts/ci-install.sh)`);
    return 1;
  }
  const data = await mkdtemp(join(tmpdir(), 'sleap-rtc-bench-python-'));
  const env = { ...process.env, SLEAP_RTC_DATA: data, SLEAP_RTC_SERVER: undefined, SLEAP_RTC_ROOM_TOKEN: undefined, SLEAP_RTC_CONFIG: undefined };
  const stack = await spawnCli(['stack', '--data', data, '--store-port', '0', '--server-port', '0', '--agent-port', '0'], { waitFor: /stack ready/, env, timeoutMs: 90_000, built: true });
  const ctrl = new AbortController();
  try {
    const shared = sharedSleapDir && join(sharedSleapDir, 'minimal_instance.pkg.slp');
    const dataset = shared && existsSync(shared) ? shared : join(data, 'synthetic.pkg.slp');
    if (dataset !== shared) await writeSyntheticSlp(dataset, { frames: 20, instancesPerFrame: 2, nodes: 3, embedded: true });

    // The Node peer: every job event off the agent's SSE stream, with its receive time.
    const node: number[] = [];
    let firstProgressAt: number | undefined;
    const stream = await AgentClient.fromConnection(data).openEvents(ctrl.signal);
    const reading = (async () => {
      for await (const e of stream) {
        if (e.event !== 'job') continue;
        const now = Date.now();
        const ev = (e.data as { event?: { type: string; t: number } }).event;
        if (ev?.type !== 'progress') continue;
        firstProgressAt ??= now;
        if (now - firstProgressAt >= WARMUP_MS) node.push(now - ev.t);
      }
    })().catch(() => undefined);

    const load = loadavg()[0];
    const py = await runToEnd(PYTHON, [join(repoRoot, 'clients/python/bench_events.py'), dataset, '--events', String(f.events), '--hidden-units', String(f['hidden-units'])], {
      env: { ...env, PYTHONPATH: join(repoRoot, 'clients/python'), PYTHONDONTWRITEBYTECODE: '1' },
      timeoutMs: 600_000,
      what: 'bench_events.py',
    });
    ctrl.abort();
    await reading;
    if (py.code !== 0) {
      console.error(`bench_events.py exited ${py.code}:\n${py.stderr.slice(-3000)}`);
      return 1;
    }
    console.log(`Python client, ${dataset === shared ? 'minimal_instance.pkg.slp' : 'a synthetic .pkg.slp'}, builtin trainer hidden_units ${f['hidden-units']}; this machine, load ${load.toFixed(1)} at start, no emulation (loopback):`);
    for (const line of py.stdout.trim().split('\n')) console.log(`  ${line}`);
    if (node.length > 0) console.log(`  worker -> agent SSE (Node reader, the same job's events): p50 ${pct(node, 50).toFixed(1)} ms, p99 ${pct(node, 99).toFixed(1)} ms over ${node.length} events`);
    return 0;
  } finally {
    ctrl.abort();
    await stack.stop('SIGTERM');
    await rm(data, { recursive: true, force: true });
  }
}
