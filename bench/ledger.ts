// `npm run bench -- ledger [--parts N] [--batch N] [--pace-ms N] [--runs N]`
//
// The agent's upload ledger (src/agent/Ledger.ts) at a harsh pace, with its default coalescing
// (part records written at most every 200 ms, writes kept under 1 % of wall time): by default
// 10,000 part records of 8 MiB parts, 10 every 5 ms, i.e. 2,000 parts/s (16 GB/s, ~80x faster
// than a real upload here). Prints, per run, the wall time, the writes, and the share of the wall
// time spent writing and recording (the goal: a small share, well under 10 %). Asserts nothing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../src/agent/Ledger.js';
import { syntheticPart, syntheticUpload } from '../test/agent/support/syntheticUpload.js';
import { benchFlags } from './args.js';

export async function main(args: string[]): Promise<number> {
  const o = benchFlags(args, { ints: { parts: 10_000, batch: 10, 'pace-ms': 5, runs: 3 } });
  const dir = await mkdtemp(join(tmpdir(), 'bench-ledger-'));
  try {
    console.log(`ledger: ${o.parts} part records, ${o.batch} every ${o['pace-ms']} ms, default coalescing; ${o.runs} runs`);
    const shares: number[] = [];
    for (let run = 1; run <= o.runs; run++) {
      const ledger = await Ledger.open(join(dir, `run${run}`, 'ledger.json'));
      await ledger.putUpload(syntheticUpload('big', o.parts));
      const f = ledger.upload('big')!.files[0];
      const before = { ...ledger.stats };
      const t0 = performance.now();
      for (let n = 1; n <= o.parts; ) {
        for (let k = 0; k < o.batch && n <= o.parts; k++, n++) ledger.addPart(f, syntheticPart(n));
        await new Promise((r) => setTimeout(r, o['pace-ms']));
      }
      await ledger.close();
      const wallMs = performance.now() - t0;
      const writes = ledger.stats.writes - before.writes;
      const writeMs = ledger.stats.writeMs - before.writeMs;
      const recordMs = ledger.stats.recordMs - before.recordMs;
      const share = (writeMs + recordMs) / wallMs;
      shares.push(share);
      console.log(`run ${run}: ${(wallMs / 1000).toFixed(2)} s wall, ${writes} writes, ${writeMs.toFixed(0)} ms writing + ${recordMs.toFixed(0)} ms recording = ${(share * 100).toFixed(2)} % of the wall time`);
    }
    const sorted = [...shares].sort((a, b) => a - b);
    console.log(`ledger share of wall time: median ${(sorted[Math.floor(sorted.length / 2)] * 100).toFixed(2)} %, max ${(sorted[sorted.length - 1] * 100).toFixed(2)} %`);
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
