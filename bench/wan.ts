// `npm run bench -- wan`: adaptive concurrency against fixed defaults, in one run. The same file is
// uploaded to the same S3 server by this engine (auto, and fixed 4 and 10), `aws s3 cp` (8 MiB x 10),
// `rclone copyto` (5 MiB x 4) and boto3 `upload_file` (8 MiB x 10), each at its own defaults,
// first through the emulated WAN (test/support/wan: userspace TCP proxy; RTT added half each way,
// a rate cap per connection and one for the whole link, both directions; in front of S3 and of the
// engine's backend alike), then on loopback without it. Prints MiB/s, the ratio to the best other
// tool, and the most parts the adaptive engine had in flight.
// Flags: --size-mib N (1024: the adaptive engine spends its first ~4 s finding the knee, so a
//        much smaller file measures mostly that; about 3 minutes in all here) --rtt-ms N (50) --conn-mib N (8: MiB/s per connection)
//        --link-mib N (160: MiB/s for the link) --runs N (1) --target embedded|rgw (embedded)
//        --tools engine-auto,engine-4,engine-10,aws,rclone,boto3 (all) --scenarios wan,loopback (both)
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { makeS3Client } from '../src/core/s3client.js';
import { startServerProcess } from '../test/support/server.js';
import { s3Targets } from '../test/support/targets.js';
import { startWan } from '../test/support/wan/wanLink.js';
import { benchFlags } from './args.js';
import { writeRandomFile } from './randomFile.js';
import { buildEngine, sha256Of, timed } from './upload.js';

const MiB = 1024 * 1024;

interface Tool {
  id: string;
  name: string;
  argv: (endpoint: string, serverUrl: string, bucket: string, key: string) => string[];
  env?: (token: string, endpoint: string) => NodeJS.ProcessEnv;
  /** The key it wrote, from its stdout (the engine picks its own). */
  key?: (stdout: string) => string;
}

export async function main(args: string[]): Promise<number> {
  const f = benchFlags(args, {
    ints: { 'size-mib': 1024, 'rtt-ms': 50, 'conn-mib': 8, 'link-mib': 160, runs: 1 },
    strings: { target: 'embedded', tools: 'engine-auto,engine-4,engine-10,aws,rclone,boto3', scenarios: 'wan,loopback' },
  });
  const factory = s3Targets().find((t) => t.name === f.target);
  if (!factory) throw new Error(`--target must be rgw or embedded, not ${f.target}`);
  const emulated = `emulated WAN: ${f['rtt-ms']} ms RTT added (half each way, plus one RTT per new connection for the handshake), ${f['conn-mib']} MiB/s per TCP connection and ${f['link-mib']} MiB/s for the link, each direction (userspace proxy, test/support/wan; no loss, no slow start), in front of S3 and the backend`;

  const dir = await mkdtemp(join(tmpdir(), 'bench-wan-'));
  const file = join(dir, 'data.bin');
  await writeRandomFile(file, f['size-mib'] * MiB);
  const source = await sha256Of(createReadStream(file));
  const engineJs = await buildEngine();

  const engine = (c: string): Tool => ({
    id: `engine-${c}`,
    name: `this engine (8 MiB x ${c})`,
    argv: (_e, serverUrl) => [process.execPath, engineJs, file, serverUrl],
    env: (token) => ({ BENCH_ROOM_TOKEN: token, BENCH_PART_MIB: '8', BENCH_CONCURRENCY: c }),
    key: (out) => JSON.parse(out.trim().split('\n').pop() ?? '{}').key as string,
  });
  const all: Tool[] = [
    engine('auto'),
    engine('4'),
    engine('10'),
    { id: 'aws', name: 'aws s3 cp (8 MiB x 10)', argv: (e, _s, b, k) => ['/usr/bin/aws', 's3', 'cp', '--only-show-errors', '--endpoint-url', e, file, `s3://${b}/${k}`] },
    { id: 'rclone', name: 'rclone copyto (5 MiB x 4)', argv: (_e, _s, b, k) => ['/usr/bin/rclone', 'copyto', file, `bench:${b}/${k}`], env: (_t, e) => ({ RCLONE_CONFIG_BENCH_ENDPOINT: e }) },
    { id: 'boto3', name: 'boto3 upload_file (8 MiB x 10)', argv: (e, _s, b, k) => ['/usr/bin/python3', '-c', 'import boto3,sys; boto3.client("s3", endpoint_url=sys.argv[1]).upload_file(sys.argv[2], sys.argv[3], sys.argv[4])', e, file, b, k] },
  ];
  const tools = all.filter((t) => f.tools.split(',').includes(t.id));

  console.log(`starting ${f.target}, the WAN and two sleap-rtc servers ...`);
  const target = await factory.start({ built: true });
  const wan = startWan({ rttMs: f['rtt-ms'], perConnectionBps: f['conn-mib'] * MiB, aggregateBps: f['link-mib'] * MiB });
  const s3Wan = await wan.forward(target.endpoint);
  // The WAN server signs URLs for the WAN's address; its API is reached through the WAN too.
  const srvWan = await startServerProcess(target, ['--s3-public-endpoint', s3Wan.url], { built: true });
  const apiWan = await wan.forward(srvWan.url);
  const srvLo = await startServerProcess(target, [], { built: true });
  const s3 = makeS3Client({ endpoint: target.endpoint, region: target.region, accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey, AWS_DEFAULT_REGION: target.region, AWS_EC2_METADATA_DISABLED: 'true',
    RCLONE_CONFIG_BENCH_TYPE: 's3', RCLONE_CONFIG_BENCH_PROVIDER: 'Ceph', RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: target.accessKeyId, RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: target.secretAccessKey, RCLONE_CONFIG_BENCH_REGION: target.region,
  };
  delete env.AWS_CA_BUNDLE; // rclone 1.60 fails when it is set (docs/facts.md §5)
  const scenarios = [
    { id: 'wan', about: emulated, endpoint: s3Wan.url, serverUrl: apiWan.url, srv: srvWan },
    { id: 'loopback', about: 'loopback, no emulation', endpoint: target.endpoint, serverUrl: srvLo.url, srv: srvLo },
  ].filter((s) => f.scenarios.split(',').includes(s.id));

  const results: { scenario: string; tool: Tool; rates: number[]; maxConcurrency: number[] }[] = [];
  try {
    for (const sc of scenarios) {
      for (const tool of tools) {
        const row = { scenario: sc.id, tool, rates: [] as number[], maxConcurrency: [] as number[] };
        results.push(row);
        for (let run = 1; run <= f.runs; run++) {
          const key = `bench/${sc.id}-${tool.id}-${run}.bin`;
          const r = await timed(tool.argv(sc.endpoint, sc.serverUrl, sc.srv.bucket, key), { ...env, ...tool.env?.(sc.srv.rooms.lab, sc.endpoint) });
          const written = tool.key ? tool.key(r.stdout) : key;
          const got = await s3.send(new GetObjectCommand({ Bucket: sc.srv.bucket, Key: written }));
          const sum = await sha256Of(got.Body as NodeJS.ReadableStream);
          if (sum !== source) throw new Error(`${tool.name}: the object read back has SHA-256 ${sum}, the file ${source}`);
          await s3.send(new DeleteObjectCommand({ Bucket: sc.srv.bucket, Key: written }));
          const rate = f['size-mib'] / r.seconds;
          row.rates.push(rate);
          const extra = tool.id === 'engine-auto' ? (JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { max_concurrency?: number; last_concurrency?: number }) : undefined;
          if (extra?.max_concurrency !== undefined) row.maxConcurrency.push(extra.max_concurrency);
          console.log(`  ${sc.id} run ${run}/${f.runs} ${tool.name}: ${rate.toFixed(1)} MiB/s${extra ? ` (parts in flight: up to ${extra.max_concurrency}, ${extra.last_concurrency} at the end)` : ''} (read back, SHA-256 equal)`);
        }
      }
    }
  } finally {
    s3.destroy();
    await srvWan.stop();
    await srvLo.stop();
    await wan.close();
    await target.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ratios: Record<string, number> = {};
  for (const sc of scenarios) {
    const rows = results.filter((r) => r.scenario === sc.id);
    const peers = rows.filter((r) => !r.tool.id.startsWith('engine'));
    const best = peers.length > 0 ? Math.max(...peers.map((r) => median(r.rates))) : NaN;
    console.log(`\n${f['size-mib']} MiB upload to ${f.target}, ${sc.about}; ${f.runs} run(s), medians; this machine, 2 cores shared`);
    console.log(`${'tool'.padEnd(34)} ${'MiB/s'.padStart(7)} ${'vs best other'.padStart(14)}`);
    for (const r of rows) {
      const m = median(r.rates);
      if (r.tool.id === 'engine-auto') ratios[sc.id] = m / best;
      console.log(`${r.tool.name.padEnd(34)} ${m.toFixed(1).padStart(7)} ${(m / best).toFixed(2).padStart(13)}x${r.maxConcurrency.length ? `  (up to ${Math.max(...r.maxConcurrency)} parts in flight)` : ''}`);
    }
  }
  if (ratios.wan !== undefined && ratios.loopback !== undefined) {
    const pass = ratios.wan >= 1.3 && ratios.loopback > 1;
    console.log(`\nheadline: adaptive concurrency (auto) vs the best other tool, ${f['size-mib']} MiB to ${f.target}: ${ratios.wan.toFixed(2)}x on the emulated WAN (${f['rtt-ms']} ms RTT, ${f['conn-mib']} MiB/s per connection, ${f['link-mib']} MiB/s link), ${ratios.loopback.toFixed(2)}x on loopback`);
    console.log(`goal (auto): ahead of the best other tool on both, on the WAN by 1.3x or more: ${pass ? 'PASS' : 'FAIL'} (WAN ${ratios.wan.toFixed(2)}x, loopback ${ratios.loopback.toFixed(2)}x)`);
  }
  return 0;
}
