// `npm run bench -- upload`: the same file to the same S3 server, in one run, by this engine
// (presigned URLs through `sleap-rtc server`), `aws s3 cp`, `rclone copyto` and boto3
// `upload_file`, each as its own process under GNU time: MiB/s, peak RSS, CPU seconds.
// Flags: --size-mib N (1024) --runs N (3) --target rgw|embedded (rgw) --part-mib N (8) --concurrency N|auto (auto: the engine's default)
//        --tools engine,md5,none,aws,rclone,boto3 (all) : which rows to run
//        --rss-sizes 1024,5120 : instead of the table, the default engine alone on a file of each
//        size (one run each), to show that its peak RSS does not grow with the file
//        (use --target embedded for big sizes: the RGW fixture keeps objects in a 6 GiB memstore)
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { makeS3Client } from '../src/core/s3client.js';
import { AUTO_MEMORY_BYTES } from '../src/core/transfer/AdaptiveConcurrency.js';
import { s3Targets } from '../test/support/targets.js';
import { startServerProcess } from '../test/support/server.js';
import { writeRandomFile } from './randomFile.js';

interface Sample { seconds: number; cpu: number; rssMib: number }
const MiB = 1024 * 1024;

function flag(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
}

/**
 * Runs argv under GNU time (-f "%e %U %S %M"); returns wall, CPU and peak RSS. With `timeoutMs`,
 * the process group is killed then and the promise rejects with a message naming the limit.
 */
export function timed(argv: string[], env: NodeJS.ProcessEnv, opts: { timeoutMs?: number } = {}): Promise<Sample & { stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %e %U %S %M', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.timeoutMs !== undefined });
    let out = '';
    let err = '';
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`${argv[0]} did not finish within the time limit of ${Math.round(opts.timeoutMs! / 1000)} s`));
      const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`${argv[0]} failed (exit ${code}): ${err.slice(-1500)}`));
      resolve({ seconds: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMib: Number(m[4]) / 1024, stdout: out });
    });
  });
}

export async function sha256Of(stream: NodeJS.ReadableStream): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * The engine runs bundled, as the CLI does (code splitting included: the AWS SDK sits in a chunk
 * that only S3Transport loads), so no TypeScript loader inflates its RSS. Returns the entry's path.
 */
export async function buildEngine(): Promise<string> {
  // Under node_modules (packages resolve from there), not dist/: a concurrent `npm run build` empties dist/.
  const engineDir = new URL('../node_modules/.cache/bench-upload-engine/', import.meta.url).pathname;
  await build({ entryPoints: { engine: new URL('./uploadEngineChild.ts', import.meta.url).pathname }, outdir: engineDir, outExtension: { '.js': '.mjs' }, splitting: true, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning', absWorkingDir: new URL('..', import.meta.url).pathname });
  const engineJs = join(engineDir, 'engine.mjs');
  if ((await readFile(engineJs, 'utf8')).includes('@aws-sdk/')) throw new Error('the engine bundle imports the AWS SDK up front: the presigned path must not load it');
  return engineJs;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function main(args: string[]): Promise<number> {
  const sizeMib = Number(flag(args, 'size-mib', '1024'));
  const runs = Number(flag(args, 'runs', '3'));
  const targetName = flag(args, 'target', 'rgw');
  const partMib = flag(args, 'part-mib', '8');
  const concurrency = flag(args, 'concurrency', 'auto');
  // The most bytes the engine keeps in flight: concurrency x part size, or the adaptive limit's memory bound.
  const inFlightMib = concurrency === 'auto' ? AUTO_MEMORY_BYTES / MiB : Number(concurrency) * Number(partMib);
  const toolNames = flag(args, 'tools', 'engine,md5,none,aws,rclone,boto3').split(',');
  const rssSizes = flag(args, 'rss-sizes', '').split(',').filter(Boolean).map(Number);
  const factory = s3Targets().find((t) => t.name === targetName);
  if (!factory) throw new Error(`--target must be rgw or embedded, not ${targetName}`);

  const dir = await mkdtemp(join(tmpdir(), 'bench-upload-'));
  const file = join(dir, 'data.bin');
  if (rssSizes.length === 0) await writeRandomFile(file, sizeMib * MiB);
  const source = rssSizes.length === 0 ? await sha256Of(createReadStream(file)) : '';
  const engineJs = await buildEngine();

  console.log(`starting ${targetName} and sleap-rtc server ...`);
  const target = await factory.start({ built: true });
  const srv = await startServerProcess(target, [], { built: true });
  const s3 = makeS3Client({ endpoint: target.endpoint, region: target.region, accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey });
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey, AWS_DEFAULT_REGION: target.region, AWS_EC2_METADATA_DISABLED: 'true' };
  delete env.AWS_CA_BUNDLE; // rclone 1.60 fails when it is set (docs/facts.md §5)
  const bucket = srv.bucket;
  const engine = (id: string, checksum: string, label: string) => ({
    id,
    name: `this engine (${partMib} MiB x ${concurrency}, ${label})`,
    argv: () => [process.execPath, engineJs, file, srv.url],
    env: { BENCH_ROOM_TOKEN: srv.rooms.lab, BENCH_PART_MIB: partMib, BENCH_CONCURRENCY: concurrency, BENCH_PART_CHECKSUM: checksum },
    key: (out: string) => JSON.parse(out.trim().split('\n').pop() ?? '{}').key as string,
  });
  const all: { id: string; name: string; argv: (key: string) => string[]; env?: NodeJS.ProcessEnv; key: (out: string, key: string) => string }[] = [
    // The default (x-amz-checksum-crc32 signed into each URL; on RGW, which ignores it, each ETag
    // checked against the part's MD5 on a worker thread), Content-MD5 on every part (the former
    // default: an MD5 pass before the upload), and no part checksum at all, to show what each costs.
    engine('engine', '', 'crc32, default'),
    engine('md5', 'md5', 'md5'),
    engine('none', 'none', 'none'),
    { id: 'aws', name: 'aws s3 cp (8 MiB x 10)', argv: (key) => ['/usr/bin/aws', 's3', 'cp', '--only-show-errors', '--endpoint-url', target.endpoint, file, `s3://${bucket}/${key}`], key: (_o, k) => k },
    {
      id: 'rclone',
      name: 'rclone copyto (5 MiB x 4)',
      argv: (key) => ['/usr/bin/rclone', 'copyto', file, `bench:${bucket}/${key}`],
      env: { RCLONE_CONFIG_BENCH_TYPE: 's3', RCLONE_CONFIG_BENCH_PROVIDER: 'Ceph', RCLONE_CONFIG_BENCH_ENDPOINT: target.endpoint, RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: target.accessKeyId, RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: target.secretAccessKey, RCLONE_CONFIG_BENCH_REGION: target.region },
      key: (_o, k) => k,
    },
    {
      id: 'boto3',
      name: 'boto3 upload_file (8 MiB x 10)',
      argv: (key) => ['/usr/bin/python3', '-c', 'import boto3,sys; boto3.client("s3", endpoint_url=sys.argv[1]).upload_file(sys.argv[2], sys.argv[3], sys.argv[4])', target.endpoint, file, bucket, key],
      key: (_o, k) => k,
    },
  ];
  const tools = all.filter((t) => toolNames.includes(t.id));
  const readBack = async (name: string, key: string, expected: string): Promise<void> => {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const sum = await sha256Of(got.Body as NodeJS.ReadableStream);
    if (sum !== expected) throw new Error(`${name}: the object read back has SHA-256 ${sum}, the file ${expected}`);
    // The RGW fixture keeps objects in a 6 GiB memstore: six 1 GiB objects would fill it.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  };

  if (rssSizes.length > 0) {
    // Peak RSS against file size: the default engine alone, one file of each size in turn.
    const bound = inFlightMib + 64;
    const lines: string[] = [];
    try {
      for (const mib of rssSizes) {
        await writeRandomFile(file, mib * MiB);
        const sum = await sha256Of(createReadStream(file));
        const t = all[0];
        const r = await timed(t.argv(''), { ...env, ...t.env });
        await readBack(t.name, t.key(r.stdout, ''), sum);
        const line = `${String(mib).padStart(6)} MiB file: ${(mib / r.seconds).toFixed(1).padStart(6)} MiB/s, ${r.cpu.toFixed(2).padStart(6)} CPU s, peak RSS ${r.rssMib.toFixed(0).padStart(4)} MiB (bound ${bound}: ${r.rssMib <= bound ? 'PASS' : 'FAIL'})`;
        console.log(`  ${line}`);
        lines.push(line);
        await rm(file, { force: true });
        if ('gc' in target && typeof (target as { gc?: () => Promise<void> }).gc === 'function') await (target as unknown as { gc(): Promise<void> }).gc();
      }
    } finally {
      s3.destroy();
      await srv.stop();
      await target.stop();
      await rm(dir, { recursive: true, force: true });
    }
    console.log(`\npeak RSS of the default engine (${partMib} MiB x ${concurrency}) by file size, ${targetName} target:\n${lines.join('\n')}`);
    return 0;
  }

  const rows: { name: string; samples: Sample[] }[] = tools.map((t) => ({ name: t.name, samples: [] }));
  try {
    for (let run = 1; run <= runs; run++) {
      for (const [i, tool] of tools.entries()) {
        const key = `bench/${i}-${run}.bin`;
        const r = await timed(tool.argv(key), { ...env, ...tool.env });
        await readBack(tool.name, tool.key(r.stdout, key), source);
        rows[i].samples.push(r);
        if ('gc' in target && typeof (target as { gc?: () => Promise<void> }).gc === 'function') await (target as unknown as { gc(): Promise<void> }).gc();
        console.log(`  run ${run}/${runs} ${tool.name}: ${(sizeMib / r.seconds).toFixed(1)} MiB/s, ${r.cpu.toFixed(2)} CPU s, peak RSS ${r.rssMib.toFixed(0)} MiB (object read back, SHA-256 equal)`);
      }
    }
  } finally {
    s3.destroy();
    await srv.stop();
    await target.stop();
    await rm(dir, { recursive: true, force: true });
  }

  console.log(`\nupload benchmark: ${sizeMib} MiB file to ${targetName} on loopback, ${runs} run(s) each, medians; each tool with its own defaults`);
  const rate = (r: { samples: Sample[] }): number => median(r.samples.map((s) => sizeMib / s.seconds));
  const ours = rows.find((_r, i) => tools[i].id === 'engine');
  const others = rows.filter((_r, i) => !tools[i].id.match(/^(engine|md5|none)$/));
  const bestOther = others.length > 0 ? Math.max(...others.map(rate)) : NaN;
  console.log(`${'tool'.padEnd(40)} ${'MiB/s'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)} ${'peak RSS MiB'.padStart(13)} ${'CPU s'.padStart(7)} ${'CPU s/GiB'.padStart(10)} ${'vs best other'.padStart(14)}`);
  for (const r of rows) {
    const rates = r.samples.map((s) => sizeMib / s.seconds);
    const cpu = median(r.samples.map((s) => s.cpu));
    console.log(`${r.name.padEnd(40)} ${median(rates).toFixed(1).padStart(7)} ${Math.min(...rates).toFixed(1).padStart(7)} ${Math.max(...rates).toFixed(1).padStart(7)} ${median(r.samples.map((s) => s.rssMib)).toFixed(0).padStart(13)} ${cpu.toFixed(2).padStart(7)} ${((cpu * 1024) / sizeMib).toFixed(2).padStart(10)} ${(median(rates) / bestOther).toFixed(2).padStart(13)}x`);
  }
  if (ours && others.length > 0) {
    const best = Math.max(...others.map(rate));
    const rss = median(ours.samples.map((s) => s.rssMib));
    const bound = inFlightMib + 64;
    const oursCpu = median(ours.samples.map((x) => x.cpu));
    const bestName = others.find((o) => rate(o) === best)?.name ?? '';
    console.log(`headline: ${sizeMib} MiB upload to ${targetName}, loopback: this engine (default) ${rate(ours).toFixed(1)} MiB/s, ${((oursCpu * 1024) / sizeMib).toFixed(2)} CPU s/GiB, peak RSS ${rss.toFixed(0)} MiB; best other ${bestName} ${best.toFixed(1)} MiB/s: ${(rate(ours) / best).toFixed(2)}x`);
    console.log(`goal (default engine): faster than the best other tool (${best.toFixed(1)} MiB/s): ${rate(ours) > best ? 'PASS' : 'FAIL'} (${rate(ours).toFixed(1)}); peak RSS <= bytes in flight + 64 MiB = ${bound} MiB: ${rss <= bound ? 'PASS' : 'FAIL'} (${rss.toFixed(0)})`);
  }
  return 0;
}
