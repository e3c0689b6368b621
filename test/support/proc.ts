import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface Spawned {
  child: ChildProcess;
  /** Resolves with the first stdout line matching `re`. */
  line: RegExpExecArray;
  stderrTail(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** What a process run to its end left: its exit code or signal, and all it printed. */
export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command args` to its end, keeping what it prints. Killed (SIGKILL) and rejected after
 * `timeoutMs`, with the end of its stderr; `what` names it in that error. The one way tests run a
 * child to completion (the CLI, the bundled CLI, Debian's python3).
 */
export function runToEnd(command: string, args: string[], opts: { env: NodeJS.ProcessEnv; timeoutMs: number; what: string; cwd?: string; uid?: number; gid?: number }): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? repoRoot, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${opts.what} did not end in ${opts.timeoutMs} ms; stderr:\n${stderr.slice(-4000)}`));
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Which sleap-rtc a test runs: the sources (tsx), dist/cli.js (`true`) or the .vsix's dist/bundled/ copy. */
export type CliBuild = boolean | 'bundled';

/** The node arguments that start sleap-rtc as `built` says. */
export function cliEntry(built: CliBuild | undefined): string[] {
  if (built === 'bundled') return ['dist/bundled/sleap-rtc.mjs'];
  return built ? ['dist/cli.js'] : ['--import', 'tsx', 'src/cli.ts'];
}

/** Runs `sleap-rtc <args>` as a real child process and waits for a stdout line. */
export async function spawnCli(args: string[], opts: { waitFor: RegExp; env?: NodeJS.ProcessEnv; timeoutMs?: number; built?: CliBuild }): Promise<Spawned> {
  // `built` runs an esbuild bundle (dist/cli.js, as users run it, or the extension's
  // dist/bundled/ copy; `npm test` builds both first), otherwise the sources through tsx.
  const entry = cliEntry(opts.built);
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
  });
  const stderrTail = (): string => stderr.split('\n').slice(-15).join('\n');
  const line = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sleap-rtc ${args[0]} did not print ${opts.waitFor} within ${opts.timeoutMs ?? 30_000} ms; stderr:\n${stderrTail()}`)), opts.timeoutMs ?? 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = opts.waitFor.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sleap-rtc ${args[0]} exited with ${code} before it was ready; stderr:\n${stderrTail()}`));
    });
  });
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      child.once('exit', (code) => resolve(code));
      child.kill(signal);
    });
  return { child, line, stderrTail, stop };
}
