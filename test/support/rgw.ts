// A real S3 server for tests and benchmarks: Ceph RADOS Gateway on loopback, started and
// stopped by scripts/rgw.sh (one monitor, one memstore OSD, no cephx; all state in a temp dir).
import { spawn, spawnSync, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface S3Quirks {
  /** `If-Match` must carry the ETag without its surrounding quotes. */
  ifMatchUnquoted: boolean;
  /** CompleteMultipartUpload honours `If-Match` / `If-None-Match`. */
  conditionalComplete: boolean;
  /** CompleteMultipartUpload answers with an empty ETag (read it with HeadObject). */
  completeEtagEmpty: boolean;
}

export interface S3Target {
  name: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  quirks: S3Quirks;
  stop(): Promise<void>;
}

/** The RGW target also exposes where its state lives (pid files in `<dir>/run`, logs in `<dir>/log`). */
export interface RgwTarget extends S3Target {
  name: 'rgw';
  /** Temp folder holding the whole cluster. */
  dir: string;
  /** S3 (beast) port on 127.0.0.1. */
  port: number;
  /** Ceph monitor port on 127.0.0.1. */
  monPort: number;
  /** Runs RGW's garbage collector now (`radosgw-admin gc process --include-all`): deleted data is freed only then. */
  gc(): Promise<void>;
}

const RADOSGW = '/usr/bin/radosgw';
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;
const here = path.dirname(fileURLToPath(import.meta.url));

/** scripts/rgw.sh, found from this file (tsx runs the sources) or, failing that, from the cwd. */
function rgwScript(): string {
  const fromHere = path.resolve(here, '../../scripts/rgw.sh');
  if (existsSync(fromHere)) return fromHere;
  const fromCwd = path.resolve(process.cwd(), 'scripts/rgw.sh');
  if (existsSync(fromCwd)) return fromCwd;
  throw new Error(`scripts/rgw.sh not found (looked at ${fromHere} and ${fromCwd})`);
}

/** True when Debian's radosgw is installed (`bash scripts/ci-install.sh` installs it). */
export function rgwAvailable(): boolean {
  return existsSync(RADOSGW);
}

/** `count` distinct free TCP ports on 127.0.0.1 (all held open together, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Temp parent folder: admin socket paths under it must stay short (unix sockets: 107 bytes). */
function tempParent(): string {
  const t = os.tmpdir();
  return t.length <= 40 ? t : '/tmp';
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** The last lines of every Ceph log under `<dir>/log`, for error messages. */
function logTails(dir: string, lines = 15): string {
  const logDir = path.join(dir, 'log');
  let names: string[];
  try {
    names = readdirSync(logDir).sort();
  } catch {
    return '(no logs)';
  }
  return names
    .map((n) => {
      try {
        return `----- ${n}\n${tail(readFileSync(path.join(logDir, n), 'utf8').trimEnd(), lines)}`;
      } catch {
        return `----- ${n} (unreadable)`;
      }
    })
    .join('\n');
}

function runScript(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', [rgwScript(), ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`scripts/rgw.sh ${args[0]} failed: ${err.message}\n${tail(String(stderr), 30)}`));
      else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Clusters still running: stopped synchronously if the process exits without calling stop(). */
const running = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const dir of running) {
      spawnSync('bash', [rgwScript(), 'stop', dir], { stdio: 'ignore', timeout: STOP_TIMEOUT_MS });
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort while exiting
      }
    }
  });
}

/**
 * Boots a fresh single-node Ceph cluster with a RADOS Gateway on a free 127.0.0.1 port, with a
 * random S3 user. Takes ~2 s here. Call `stop()` when done (it also removes the temp folder).
 * `ramBytes` caps the memstore OSD (data lives in RAM, allocated as written; default 6 GiB).
 */
export async function startRgw(opts: { ramBytes?: number } = {}): Promise<RgwTarget> {
  if (!rgwAvailable()) throw new Error(`${RADOSGW} not found: run \`bash scripts/ci-install.sh\` (Debian packages radosgw ceph-mon ceph-osd)`);
  if (opts.ramBytes !== undefined && !(Number.isSafeInteger(opts.ramBytes) && opts.ramBytes > 0)) {
    throw new Error(`startRgw: ramBytes must be a positive integer, got ${opts.ramBytes}`);
  }
  const script = rgwScript();
  const [port, monPort] = await freePorts(2);
  const dir = await mkdtemp(path.join(tempParent(), 'rgw-'));
  const accessKeyId = `RGW${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const args = ['start', dir, String(port), accessKeyId, secretAccessKey];
  if (opts.ramBytes !== undefined) args.push(String(opts.ramBytes));

  const cleanup = async (): Promise<void> => {
    try {
      await runScript(['stop', dir], STOP_TIMEOUT_MS);
    } finally {
      running.delete(dir);
      await rm(dir, { recursive: true, force: true });
    }
  };

  installExitHook();
  running.add(dir);
  const child = spawn('bash', [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so a timeout can end the script together with the CLI calls it waits on.
    detached: true,
    // The script gives up (and cleans up after itself) a little before we do.
    env: { ...process.env, RGW_MON_PORT: String(monPort), RGW_START_TIMEOUT: String(Math.floor(START_TIMEOUT_MS / 1000) - 10) },
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-32_000);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          child.kill('SIGTERM');
        }
        finish(
          new Error(
            `Ceph RGW did not start within ${START_TIMEOUT_MS / 1000} s (port ${port}, mon port ${monPort}, dir ${dir}).\n` +
              `rgw.sh stderr:\n${tail(stderr, 20)}\nlogs:\n${logTails(dir)}`,
          ),
        );
      }, START_TIMEOUT_MS);
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (/^listening on /m.test(stdout)) finish();
      });
      child.once('error', (err) => finish(new Error(`could not run bash ${script}: ${err.message}`)));
      child.once('exit', (code, signal) => {
        // The script exits right after printing the line; give the stdout data a chance to land.
        setImmediate(() => {
          if (/^listening on /m.test(stdout)) finish();
          else
            finish(
              new Error(
                `scripts/rgw.sh start exited (${code ?? signal}) before Ceph RGW was ready (port ${port}, mon port ${monPort}).\n` +
                  `rgw.sh stderr:\n${tail(stderr, 60)}`,
              ),
            );
        });
      });
    });
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    name: 'rgw',
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    accessKeyId,
    secretAccessKey,
    quirks: { ifMatchUnquoted: true, conditionalComplete: false, completeEtagEmpty: true },
    dir,
    port,
    monPort,
    gc: async () => {
      await runScript(['gc', dir], 300_000);
    },
    stop: () => (stopping ??= cleanup()),
  };
}
