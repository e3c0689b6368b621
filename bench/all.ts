// `npm run bench` (no argument): every benchmark, one after the other on this machine, each as its
// own process (`node --import tsx bench/index.ts <name> ...`, exactly the command its section
// names), then `bench/results/latest.md` with every figure of this one run: the lines the
// benchmarks mark `headline: ` first, then each benchmark's output under its command.
// Flags: --only a,b (the step ids below) --skip a,b --out PATH (bench/results/latest.md)
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { benchFlags } from './args.js';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

interface Step {
  id: string;
  title: string;
  args: string[];
}

/** In the order of the issue's table: S3 engines, the WAN, the seed's comparison, jobs, the rest. */
const STEPS: Step[] = [
  { id: 'upload-embedded', title: 'S3 upload vs aws cli, rclone, boto3: the embedded store', args: ['upload', '--target', 'embedded'] },
  { id: 'upload-rgw', title: 'S3 upload vs aws cli, rclone, boto3: Ceph RGW', args: ['upload', '--target', 'rgw'] },
  { id: 'wan', title: 'Adaptive concurrency vs fixed, on the emulated WAN and on loopback', args: ['wan', '--runs', '3'] },
  { id: 'seed', title: "The seed's comparison: chunked-rtc vs S3 multipart on the emulated WAN", args: ['seed'] },
  { id: 'soak', title: 'Soak: uploads at once under random faults', args: ['soak'] },
  { id: 'jobs', title: 'Jobs through the agent', args: ['jobs'] },
  { id: 'store', title: 'The embedded store and RGW by presigned URLs', args: ['store'] },
  { id: 'ledger', title: "The agent's upload ledger", args: ['ledger'] },
  { id: 'python', title: 'The Python client', args: ['python'] },
  { id: 'extension', title: 'The VS Code extension', args: ['extension'] },
];

interface Ran {
  step: Step;
  code: number | null;
  seconds: number;
  output: string;
}

function run(step: Step): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/index.ts', ...step.args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer, to: NodeJS.WriteStream): void => {
      output += d.toString();
      to.write(d);
    };
    child.stdout.on('data', (d: Buffer) => keep(d, process.stdout));
    child.stderr.on('data', (d: Buffer) => keep(d, process.stderr));
    // 'close' (every output read), not 'exit': the tables come last.
    child.on('close', (code) => resolve({ step, code, seconds: (performance.now() - t0) / 1000, output }));
  });
}

/** Text before the first `### ` heading is the benchmark's log; from there on, its markdown (if any). */
function section(r: Ran): string {
  const command = `npm run bench -- ${r.step.args.join(' ')}`;
  const head = `## ${r.step.title}\n\nCommand: \`${command}\` (${r.seconds.toFixed(0)} s${r.code === 0 ? '' : `, exit code ${r.code}`})\n`;
  const text = stripVTControlCharacters(r.output).trimEnd();
  const md = text.search(/^### /m);
  if (md < 0) return `${head}\n\`\`\`text\n${text}\n\`\`\`\n`;
  const log = text.slice(0, md).trimEnd();
  return `${head}\n<details><summary>log</summary>\n\n\`\`\`text\n${log}\n\`\`\`\n\n</details>\n\n${text.slice(md)}\n`;
}

export async function main(args: string[]): Promise<number> {
  const f = benchFlags(args, { ints: {}, strings: { only: '', skip: '', out: 'bench/results/latest.md' } });
  const only = f.only ? f.only.split(',') : undefined;
  const skip = f.skip ? f.skip.split(',') : [];
  const unknown = [...(only ?? []), ...skip].filter((id) => !STEPS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown step(s) ${unknown.join(', ')}: the steps are ${STEPS.map((s) => s.id).join(', ')}`);
  const steps = STEPS.filter((s) => (only ? only.includes(s.id) : true) && !skip.includes(s.id));

  const started = new Date();
  const ran: Ran[] = [];
  // Written again after each step: an interrupted run still leaves what it measured.
  for (const s of steps) {
    console.log(`\n=== ${s.id}: npm run bench -- ${s.args.join(' ')}`);
    ran.push(await run(s));
    await write(f.out, started, steps, ran);
  }
  console.log(`\nwrote ${f.out} (${ran.length} benchmark(s), ${(ran.reduce((n, r) => n + r.seconds, 0) / 60).toFixed(0)} min)`);
  return ran.some((r) => r.code !== 0) ? 1 : 0;
}

async function write(out: string, started: Date, steps: Step[], ran: Ran[]): Promise<void> {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim() || 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim() !== '';
  const cpu = cpus();
  const headlines = ran.flatMap((r) => r.output.split('\n').filter((l) => l.startsWith('headline: ')).map((l) => `- ${l.slice('headline: '.length)} (\`npm run bench -- ${r.step.args.join(' ')}\`)`));
  const left = STEPS.filter((s) => !steps.includes(s)).map((s) => s.id);
  const pending = steps.filter((s) => !ran.some((r) => r.step === s)).map((s) => s.id);
  const failed = ran.filter((r) => r.code !== 0).map((r) => r.step.id);
  const md = [
    '# Benchmarks: the latest full run',
    '',
    `Written by \`npm run bench\` (bench/all.ts) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit}${dirty ? ' with uncommitted changes' : ''}, on ${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}. Every figure below comes from this one run; every peer a figure is compared with was measured in the same run. Each section names the command that gives it.`,
    ...(left.length > 0 ? ['', `Not run this time: ${left.join(', ')}.`] : []),
    ...(pending.length > 0 ? ['', `Still to run when this was written: ${pending.join(', ')}.`] : []),
    ...(failed.length > 0 ? ['', `Did not finish cleanly: ${failed.join(', ')} (see their sections).`] : []),
    '',
    '## Headlines',
    '',
    ...(headlines.length > 0 ? headlines : ['(none printed)']),
    '',
    ...ran.map(section),
  ].join('\n');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, md);
}
