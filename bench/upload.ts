// `npm run bench -- upload`: the same file to the same S3 server, in one run, by this engine
// (presigned URLs through `sleap-rtc server`), `aws s3 cp`, `rclone copyto` and boto3
// `upload_file`, each as its own process under GNU time: MiB/s, peak RSS, CPU seconds.
// Flags: --size-mib N (1024) --runs N (3) --target rgw|embedded (rgw) --part-mib N (8) --concurrency N (8)
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { makeS3Client } from '../src/core/s3client.js';
import { s3Targets } from '../test/support/targets.js';
import { startServerProcess } from '../test/support/server.js';
import { writeRandomFile } from './randomFile.js';

interface Sample { seconds: number; cpu: number; rssMib: number }
const MiB = 1024 * 1024;

function flag(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
}

/** Runs argv under GNU time (-f "%e %U %S %M"); returns wall, CPU and peak RSS. */
function timed(argv: string[], env: NodeJS.ProcessEnv): Promise<Sample & { stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %e %U %S %M', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('exit', (code) => {
      const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`${argv[0]} failed (exit ${code}): ${err.slice(-1500)}`));
      resolve({ seconds: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMib: Number(m[4]) / 1024, stdout: out });
    });
  });
}

async function sha256Of(stream: NodeJS.ReadableStream): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return h.digest('hex');
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function main(args: string[]): Promise<number> {
  const sizeMib = Number(flag(args, 'size-mib', '1024'));
  const runs = Number(flag(args, 'runs', '3'));
  const targetName = flag(args, 'target', 'rgw');
  const partMib = flag(args, 'part-mib', '8');
  const concurrency = flag(args, 'concurrency', '8');
  const factory = s3Targets().find((t) => t.name === targetName);
  if (!factory) throw new Error(`--target must be rgw or embedded, not ${targetName}`);

  const dir = await mkdtemp(join(tmpdir(), 'bench-upload-'));
  const file = join(dir, 'data.bin');
  await writeRandomFile(file, sizeMib * MiB);
  const source = await sha256Of(createReadStream(file));
  // The engine runs bundled, as the CLI does, so no TypeScript loader inflates its RSS.
  const engineJs = new URL('../dist/bench-upload-engine.mjs', import.meta.url).pathname; // beside node_modules
  await build({ entryPoints: [new URL('./uploadEngineChild.ts', import.meta.url).pathname], outfile: engineJs, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning', absWorkingDir: new URL('..', import.meta.url).pathname });

  console.log(`starting ${targetName} and sleap-rtc server ...`);
  const target = await factory.start({ built: true });
  const srv = await startServerProcess(target, [], { built: true });
  const s3 = makeS3Client({ endpoint: target.endpoint, region: target.region, accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey });
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey, AWS_DEFAULT_REGION: target.region, AWS_EC2_METADATA_DISABLED: 'true' };
  delete env.AWS_CA_BUNDLE; // rclone 1.60 fails when it is set (facts.md)
  const bucket = srv.bucket;
  const engine = (checksum: string) => ({
    name: `this engine (${partMib} MiB x ${concurrency}, ${checksum})`,
    argv: () => [process.execPath, engineJs, file, srv.url],
    env: { BENCH_ROOM_TOKEN: srv.rooms.lab, BENCH_PART_MIB: partMib, BENCH_CONCURRENCY: concurrency, BENCH_PART_CHECKSUM: checksum },
    key: (out: string) => JSON.parse(out.trim().split('\n').pop() ?? '{}').key as string,
  });
  const tools: { name: string; argv: (key: string) => string[]; env?: NodeJS.ProcessEnv; key: (out: string, key: string) => string }[] = [
    // Content-MD5 on every part (the default: the one checksum AWS, RGW and the store all verify),
    // and without a part checksum, to show what the MD5 pass costs.
    engine('md5'),
    engine('none'),
    { name: 'aws s3 cp (8 MiB x 10)', argv: (key) => ['/usr/bin/aws', 's3', 'cp', '--only-show-errors', '--endpoint-url', target.endpoint, file, `s3://${bucket}/${key}`], key: (_o, k) => k },
    {
      name: 'rclone copyto (5 MiB x 4)',
      argv: (key) => ['/usr/bin/rclone', 'copyto', file, `bench:${bucket}/${key}`],
      env: { RCLONE_CONFIG_BENCH_TYPE: 's3', RCLONE_CONFIG_BENCH_PROVIDER: 'Ceph', RCLONE_CONFIG_BENCH_ENDPOINT: target.endpoint, RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: target.accessKeyId, RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: target.secretAccessKey, RCLONE_CONFIG_BENCH_REGION: target.region },
      key: (_o, k) => k,
    },
    {
      name: 'boto3 upload_file (8 MiB x 10)',
      argv: (key) => ['/usr/bin/python3', '-c', 'import boto3,sys; boto3.client("s3", endpoint_url=sys.argv[1]).upload_file(sys.argv[2], sys.argv[3], sys.argv[4])', target.endpoint, file, bucket, key],
      key: (_o, k) => k,
    },
  ];

  const rows: { name: string; samples: Sample[] }[] = tools.map((t) => ({ name: t.name, samples: [] }));
  try {
    for (let run = 1; run <= runs; run++) {
      for (const [i, tool] of tools.entries()) {
        const key = `bench/${i}-${run}.bin`;
        const r = await timed(tool.argv(key), { ...env, ...tool.env });
        const written = tool.key(r.stdout, key);
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: written }));
        const sum = await sha256Of(got.Body as NodeJS.ReadableStream);
        if (sum !== source) throw new Error(`${tool.name}: the object read back has SHA-256 ${sum}, the file ${source}`);
        rows[i].samples.push(r);
        console.log(`  run ${run}/${runs} ${tool.name}: ${(sizeMib / r.seconds).toFixed(1)} MiB/s, ${r.cpu.toFixed(2)} CPU s, peak RSS ${r.rssMib.toFixed(0)} MiB (object read back, SHA-256 equal)`);
      }
      if ('gc' in target && typeof (target as { gc?: () => Promise<void> }).gc === 'function') await (target as unknown as { gc(): Promise<void> }).gc();
    }
  } finally {
    s3.destroy();
    await srv.stop();
    await target.stop();
    await rm(dir, { recursive: true, force: true });
  }

  console.log(`\nupload benchmark: ${sizeMib} MiB file to ${targetName} on loopback, ${runs} run(s) each, medians; each tool with its own defaults`);
  console.log(`${'tool'.padEnd(40)} ${'MiB/s'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)} ${'peak RSS MiB'.padStart(13)} ${'CPU s'.padStart(7)}`);
  for (const r of rows) {
    const rates = r.samples.map((s) => sizeMib / s.seconds);
    console.log(`${r.name.padEnd(40)} ${median(rates).toFixed(1).padStart(7)} ${Math.min(...rates).toFixed(1).padStart(7)} ${Math.max(...rates).toFixed(1).padStart(7)} ${median(r.samples.map((s) => s.rssMib)).toFixed(0).padStart(13)} ${median(r.samples.map((s) => s.cpu)).toFixed(2).padStart(7)}`);
  }
  const ours = median(rows[0].samples.map((s) => sizeMib / s.seconds));
  const best = Math.max(...rows.slice(2).map((r) => median(r.samples.map((s) => sizeMib / s.seconds))));
  const rss = median(rows[0].samples.map((s) => s.rssMib));
  const bound = Number(concurrency) * Number(partMib) + 64;
  console.log(`goal (default engine, md5 parts): faster than the best other tool (${best.toFixed(1)} MiB/s): ${ours > best ? 'PASS' : 'FAIL'} (${ours.toFixed(1)}); peak RSS <= concurrency x part size + 64 MiB = ${bound} MiB: ${rss <= bound ? 'PASS' : 'FAIL'} (${rss.toFixed(0)})`);
  return 0;
}
