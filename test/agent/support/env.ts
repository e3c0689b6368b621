// Shared setup of the agent tests: an S3 target, the fault proxy in front of it (presigned URLs
// point at the proxy through the server's --s3-public-endpoint, so every part byte is counted),
// `sleap-rtc server` as a process, and helpers to run `sleap-rtc agent` / `sleap-rtc upload`.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFaultProxy, type FaultProxy } from '../../support/faultProxy.js';
import { runToEnd, spawnCli, type Finished, type CliBuild, type Spawned } from '../../support/proc.js';
import { startServerProcess, type ServerProcess } from '../../support/server.js';
import type { S3Target } from '../../support/targets.js';

export interface AgentTestEnv {
  target: S3Target;
  proxy: FaultProxy;
  server: ServerProcess;
  dir: string;
  /** Environment for agent/upload processes: server URL and room token. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startAgentTestEnv(target: S3Target): Promise<AgentTestEnv> {
  const proxy = await startFaultProxy(target.endpoint);
  const server = await startServerProcess(target, ['--s3-public-endpoint', proxy.url]);
  const dir = await mkdtemp(join(tmpdir(), 'agent-test-'));
  return {
    target,
    proxy,
    server,
    dir,
    env: { SLEAP_RTC_SERVER: server.url, SLEAP_RTC_ROOM_TOKEN: server.rooms.lab, SLEAP_RTC_DATA: undefined, SLEAP_RTC_CONFIG: undefined },
    async stop() {
      await server.stop();
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface AgentProcess {
  url: string;
  port: number;
  token: string;
  proc: Spawned;
  /** fetch against the agent with its token (or another, or none). */
  // The body is the parsed JSON, as the tests read it: each asserts on the fields it expects, and a
  // missing one fails that assertion (validating every answer again here would only restate the schemas).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
  api(path: string, init?: { method?: string; body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
}

export async function startAgentProcess(env: NodeJS.ProcessEnv, data: string, extra: string[] = [], built?: CliBuild): Promise<AgentProcess> {
  const proc = await spawnCli(['agent', '--port', '0', '--data', data, ...extra], { waitFor: /agent listening on (http:\/\/\S+) \(token in (\S+)\)/, env, built });
  const url = proc.line[1];
  const token = (await readFile(proc.line[2], 'utf8')).trim();
  return {
    url,
    port: Number(new URL(url).port),
    token,
    proc,
    async api(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      const tok = init.token === undefined ? token : init.token;
      if (tok) headers.authorization = `Bearer ${tok}`;
      const body = init.body === undefined ? undefined : JSON.stringify(init.body);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}

export type CliRun = Finished;

/** Runs `sleap-rtc <args>` to its end. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, opts: { uid?: number; gid?: number; timeoutMs?: number } = {}): Promise<CliRun> {
  return await runToEnd(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env }, timeoutMs: opts.timeoutMs ?? 60_000, what: `sleap-rtc ${args.join(' ')}`, uid: opts.uid, gid: opts.gid });
}

/** SHA-256 of an object, read back by an independent client (Debian's python3 + boto3), straight from S3. */
export async function sha256ViaBoto3(target: S3Target, bucket: string, key: string): Promise<string> {
  const script = `
import sys, hashlib, boto3
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url=sys.argv[1], config=Config(s3={'addressing_style': 'path'}, signature_version='s3v4'))
h = hashlib.sha256()
for chunk in s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])['Body'].iter_chunks(1 << 20):
    h.update(chunk)
print(h.hexdigest())
`;
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey, AWS_DEFAULT_REGION: target.region, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
  delete env.AWS_CA_BUNDLE;
  delete env.AWS_PROFILE;
  const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script, target.endpoint, bucket, key], { env, maxBuffer: 1 << 20 });
  return stdout.trim();
}

/** Every key in a bucket (independent of the code under test: python3 + boto3). */
export async function keysViaBoto3(target: S3Target, bucket: string): Promise<string[]> {
  const script = `
import sys, json, boto3
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url=sys.argv[1], config=Config(s3={'addressing_style': 'path'}, signature_version='s3v4'))
keys = []
for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2]):
    keys += [o['Key'] for o in page.get('Contents', [])]
print(json.dumps(keys))
`;
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey, AWS_DEFAULT_REGION: target.region, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
  delete env.AWS_CA_BUNDLE;
  delete env.AWS_PROFILE;
  const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script, target.endpoint, bucket], { env });
  return JSON.parse(stdout) as string[];
}

/** Writes `size` bytes of a zip-signed pseudo-random file (fast: one random MiB repeated with a counter). */
export async function writeBigZip(path: string, size: number): Promise<void> {
  const { open } = await import('node:fs/promises');
  const { randomBytes } = await import('node:crypto');
  const fh = await open(path, 'w');
  try {
    const block = randomBytes(1 << 20);
    Buffer.from('PK\x03\x04', 'latin1').copy(block, 0);
    for (let off = 0, i = 0; off < size; off += block.length, i++) {
      const n = Math.min(block.length, size - off);
      if (i > 0) block.writeUInt32LE(i, 0);
      await fh.write(block, 0, n, off);
    }
  } finally {
    await fh.close();
  }
}
