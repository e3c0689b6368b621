// Shared setup of the extension-agent tests: the bundled CLI (dist/bundled/sleap-rtc.mjs, what the
// extension runs with the editor's Node), `sleap-rtc stack --no-agent` as the server the agents
// use, supervisors as the extension builds them, and cleanup of every agent that was started.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAgentConnection } from '../../../src/core/agentConnection.js';
import { processAlive } from '../../../src/core/processAlive.js';
import { AgentLocator, type AgentLaunchSettings } from '../../../src/extension/agent/AgentLocator.js';
import { AgentProcess, type AgentStartOptions } from '../../../src/extension/agent/AgentProcess.js';
import { AgentSupervisor, type AgentSupervisorStateChange, type AgentSupervisorOptions } from '../../../src/extension/agent/AgentSupervisor.js';
import { repoRoot, runToEnd, type Finished } from '../../support/proc.js';

export const bundledCli = join(repoRoot, 'dist', 'bundled', 'sleap-rtc.mjs');

export function requireBundle(): void {
  if (!existsSync(bundledCli)) throw new Error(`${bundledCli} is missing: run \`node scripts/build.mjs cli bundled\` first (npm test builds it)`);
}

/** process.env without SLEAP_RTC_* (the test runner's own settings must not reach the agents). */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLEAP_RTC_')) env[k] = v;
  return { ...env, ...extra };
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Every agent pid a test saw, stopped in `after`. */
export const agentPids = new Set<number>();

export async function stopAgents(): Promise<void> {
  await Promise.all([...agentPids].map((pid) => AgentProcess.stop(pid, { graceMs: 5000 }).catch(() => undefined)));
  agentPids.clear();
}

export type CliRun = Finished;

/** Runs the bundled CLI to its end. */
export async function runBundled(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<CliRun> {
  return await runToEnd(process.execPath, [bundledCli, ...args], { env, timeoutMs, what: `sleap-rtc ${args.join(' ')}` });
}

export interface StackProcess {
  child: ChildProcess;
  serverUrl: string;
  stdout(): string;
  stop(): Promise<number | null>;
}

/** `sleap-rtc stack --no-agent` on free ports, ready once it prints `stack ready`. */
export async function startStack(data: string): Promise<StackProcess> {
  const child = spawn(process.execPath, [bundledCli, 'stack', '--no-agent', '--data', data, '--store-port', '0', '--server-port', '0'], { cwd: repoRoot, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stack was not ready in 60 s; stderr:\n${err}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^stack ready/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the stack exited with ${code} before it was ready; stderr:\n${err}`));
    });
  });
  const serverUrl = /server listening on (http:\/\/\S+)/.exec(out)![1];
  return {
    child,
    serverUrl,
    stdout: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

export interface TestSupervisor {
  sup: AgentSupervisor;
  /** Every state it went through. */
  states: AgentSupervisorStateChange[];
  /** How many agent processes it started. */
  starts: number;
}

/** A supervisor as a window builds it, with short intervals; the agents it starts are recorded. */
export function makeSupervisor(dataDir: string, o: Partial<AgentSupervisorOptions> & { agentUrl?: string; settings?: AgentLaunchSettings } = {}): TestSupervisor {
  const t: TestSupervisor = { sup: undefined as unknown as AgentSupervisor, states: [], starts: 0 };
  t.sup = new AgentSupervisor({
    locator: new AgentLocator({ dataDir, agentUrl: o.agentUrl, healthTimeoutMs: 2000 }),
    autoStart: true,
    launchSettings: () => o.settings ?? {},
    nodePath: process.execPath,
    cliPath: bundledCli,
    env: cleanEnv(),
    healthIntervalMs: 200,
    searchIntervalMs: 200,
    waitIntervalMs: 100,
    backoff: { initialMs: 200, maxMs: 1000, jitter: 0.2 },
    ...o,
    startProcess: async (so: AgentStartOptions) => {
      t.starts++;
      const p = await AgentProcess.start(so);
      agentPids.add(p.pid);
      return p;
    },
  });
  t.sup.onDidChangeState((s) => t.states.push(s));
  return t;
}

/** The pid of the data folder's live agent, if any (and records it for cleanup). */
export function liveAgentPid(dataDir: string): number | undefined {
  const pid = readAgentConnection(dataDir)?.pid;
  if (pid !== undefined && processAlive(pid)) agentPids.add(pid);
  return pid;
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}
