import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readAgentConnection, agentConnectionFile, type AgentConnection } from '../../core/agentConnection.js';
import { AppError, toAppError } from '../../core/errors.js';
import { processAlive } from '../../core/processAlive.js';
import { removeIfOwned } from '../../core/privateJson.js';
import { Emitter, type Subscribe } from '../../core/Emitter.js';

export interface AgentStartOptions {
  /** The Node that runs the agent: the extension passes process.execPath (with ELECTRON_RUN_AS_NODE=1 in env). */
  nodePath: string;
  /** The CLI script (the bundled dist/bundled/sleap-rtc.mjs). */
  cliPath: string;
  /** The agent's data folder: passed as --data, and where its connection file appears. */
  dataDir: string;
  /** Flags after `agent --data <dataDir>` (AgentLocator.launch gives them). */
  args: string[];
  /** The child's whole environment (not merged with ours; undefined values are left out). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where stdout and stderr are appended. Default `<data>/agent/agent.log`. */
  logFile?: string;
  /** How long the agent may take to write its connection file. Default 60 s. */
  timeoutMs?: number;
  pollMs?: number;
}

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A log that grew past this is moved to agent.log.1 when the next agent starts. */
const ROTATE_BYTES = 10 * 1024 * 1024;

export function agentLogFile(dataDir: string): string {
  return join(dataDir, 'agent', 'agent.log');
}

/**
 * The agent as a child process, after vscode-jupyter's kernel process: spawned with argv (no
 * shell), detached (its own process group; on Windows its own hidden console) with stdout and
 * stderr appended to a log file, so that it outlives the window that started it and every
 * window can show its lines (several windows share one agent). start() resolves once the agent has written the connection file
 * of this very pid (it then answers requests), and fails with the log's last lines when the
 * agent exits first. Disposing lets go of the child without stopping it; AgentProcess.stop
 * stops an agent by pid, whoever started it.
 */
export class AgentProcess {
  private readonly exited = new Emitter<AgentExit>();
  private exit: AgentExit | undefined;
  private disposed = false;

  /** The agent's exit, for the client that started it (others notice by /health). */
  readonly onDidExit: Subscribe<AgentExit> = this.exited.event;

  private constructor(
    private readonly child: ChildProcess,
    readonly connection: AgentConnection,
    readonly logFile: string,
  ) {
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      this.exit = { code, signal };
      if (!this.disposed) this.exited.fire(this.exit);
    };
    // It may have exited between the last look at the connection file and now.
    if (child.exitCode !== null || child.signalCode !== null) queueMicrotask(() => onExit(child.exitCode, child.signalCode));
    else child.once('exit', onExit);
  }

  get pid(): number {
    return this.connection.pid;
  }

  /** Set once the process has exited (while this client watched it). */
  get exitStatus(): AgentExit | undefined {
    return this.exit;
  }

  static async start(o: AgentStartOptions): Promise<AgentProcess> {
    const logFile = o.logFile ?? agentLogFile(o.dataDir);
    mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
    rotate(logFile);
    const logFd = openSync(logFile, 'a', 0o600);
    const logStart = statSync(logFile).size;
    let child: ChildProcess;
    try {
      // cwd: the data folder, so the agent holds no workspace folder open (Windows could not delete it).
      child = spawn(o.nodePath, [o.cliPath, 'agent', '--data', o.dataDir, ...o.args], { cwd: o.dataDir, env: o.env ?? process.env, detached: true, stdio: ['ignore', logFd, logFd], windowsHide: true });
    } finally {
      closeSync(logFd);
    }
    child.unref();
    const started = await new Promise<{ pid: number } | Error>((resolve) => {
      child.once('spawn', () => resolve({ pid: child.pid! }));
      child.once('error', (e) => resolve(e));
    });
    // Later errors (a failed kill) are seen through exit and /health; unhandled they would crash the host.
    child.on('error', () => undefined);
    if (started instanceof Error) throw new AppError('unavailable', `cannot start the agent with ${o.nodePath}: ${started.message}`, { cause: started });
    const pid = started.pid;

    let exit: AgentExit | undefined;
    child.once('exit', (code, signal) => (exit = { code, signal }));
    const timeoutMs = o.timeoutMs ?? 60_000;
    const end = Date.now() + timeoutMs;
    for (;;) {
      let c: AgentConnection | undefined;
      try {
        c = readAgentConnection(o.dataDir);
      } catch {
        // Another agent's file being replaced, or one this agent is about to overwrite.
      }
      if (c && c.pid === pid) return new AgentProcess(child, c, logFile);
      if (exit) {
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        throw new AppError('unavailable', `the agent ${how} before it was ready; the last lines of ${logFile}:\n${logTail(logFile, logStart)}`, { details: { log: logFile, exit } });
      }
      if (Date.now() > end) {
        await AgentProcess.stop(pid, { dataDir: o.dataDir }).catch(() => undefined);
        throw new AppError('timeout', `the agent (pid ${pid}) did not write ${agentConnectionFile(o.dataDir)} within ${Math.round(timeoutMs / 1000)} s, so it was stopped; the last lines of ${logFile}:\n${logTail(logFile, logStart)}`, { details: { log: logFile } });
      }
      await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
    }
  }

  /**
   * Stops the agent `pid`, whoever started it. Linux and macOS: SIGTERM (it removes its
   * connection file and closes cleanly), then SIGKILL when it is still there after `graceMs`.
   * Windows has no signals between processes: Node emulates SIGTERM and SIGKILL alike as
   * TerminateProcess, which ends the agent at once, so there it is ended without a grace period
   * (its ledger is written atomically and survives that as it survives kill -9). A killed agent
   * leaves its connection file behind: with `dataDir`, the file is removed when it still names
   * `pid`, before Windows reuses the pid. `platform` is injected by tests.
   */
  static async stop(pid: number, opts: { graceMs?: number; pollMs?: number; dataDir?: string; platform?: NodeJS.Platform } = {}): Promise<'not_running' | 'terminated' | 'killed'> {
    const signal = (sig: NodeJS.Signals): boolean => {
      try {
        process.kill(pid, sig);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
        throw new AppError('forbidden', `cannot stop the agent (pid ${pid}): ${(e as Error).message}`, { cause: e });
      }
    };
    const gone = async (ms: number): Promise<boolean> => {
      const end = Date.now() + ms;
      while (processAlive(pid)) {
        if (Date.now() > end) return false;
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
      }
      return true;
    };
    const killed = async (): Promise<'killed'> => {
      if (!(await gone(5000))) throw new AppError('timeout', `the agent (pid ${pid}) is still running 5 s after it was killed: stop it by hand (Task Manager on Windows, kill -9 ${pid} elsewhere)`);
      if (opts.dataDir) removeIfOwned(agentConnectionFile(opts.dataDir), pid);
      return 'killed';
    };
    if (!processAlive(pid)) return 'not_running';
    if ((opts.platform ?? process.platform) === 'win32') return signal('SIGKILL') ? killed() : 'not_running';
    if (!signal('SIGTERM')) return 'not_running';
    if (await gone(opts.graceMs ?? 10_000)) return 'terminated';
    signal('SIGKILL');
    return killed();
  }

  /** Stops watching the child; the agent keeps running for the other windows. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.exited.dispose();
  }
}

function rotate(logFile: string): void {
  try {
    if (statSync(logFile).size > ROTATE_BYTES) renameSync(logFile, `${logFile}.1`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw toAppError(e, 'storage_error');
  }
}

/** The last lines this run wrote to the log (from byte `from` on), at most 4 KiB. */
function logTail(logFile: string, from: number, maxLines = 20): string {
  try {
    const size = statSync(logFile).size;
    const start = Math.max(from, size - 4096);
    const buf = Buffer.alloc(Math.max(0, size - start));
    const fd = openSync(logFile, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    const lines = buf.toString('utf8').split('\n').filter(Boolean).slice(-maxLines);
    return lines.length ? lines.join('\n') : '(nothing)';
  } catch {
    return '(the log could not be read)';
  }
}
