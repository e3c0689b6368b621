import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../core/errors.js';

export interface LocalStackOptions {
  /** The runtime: the editor's own (process.execPath; ELECTRON_RUN_AS_NODE=1 under desktop VS Code). */
  nodePath: string;
  /** The bundled CLI (dist/bundled/sleap-rtc.mjs inside the extension). */
  cliPath: string;
  dataFolder: string;
}

/** The last lines of a log file, for an error message when a process exits at start. */
export function lastLines(file: string, n = 8): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/**
 * `sleap-rtc stack` for trying everything on one machine: store, server, a builtin worker and
 * the agent, on free loopback ports, all state in the data folder. Started detached with its
 * output in `<data>/stack.log`, so it outlives the window that started it (like the agent);
 * clients find its agent through `<data>/agent/agent.json` and its server through
 * `<data>/stack.json`. Resolves once the process runs (the agent's connection file then follows),
 * rejects with the log's last lines if it exits first.
 */
export async function startLocalStack(o: LocalStackOptions, waitForAgent: () => Promise<void>): Promise<number> {
  mkdirSync(o.dataFolder, { recursive: true, mode: 0o700 });
  const logFile = join(o.dataFolder, 'stack.log');
  const fd = openSync(logFile, 'a', 0o600);
  const child = spawn(o.nodePath, [o.cliPath, 'stack', '--data', o.dataFolder, '--store-port', '0', '--server-port', '0', '--agent-port', '0'], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    windowsHide: true,
  });
  closeSync(fd);
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new AppError('unavailable', `could not start the local stack: ${e.message}`)));
    child.once('exit', (code, signal) => reject(new AppError('unavailable', `the local stack exited at start (${signal ?? `code ${code}`}):\n${lastLines(logFile)}\n(full log: ${logFile})`)));
  });
  try {
    await Promise.race([waitForAgent(), exited]);
  } finally {
    child.removeAllListeners('exit');
    child.unref();
  }
  return child.pid ?? 0;
}
