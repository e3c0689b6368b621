import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Trainer child processes run in their own process group (spawned detached), so one signal
 * reaches the trainer and everything it started (data loader workers, a shell's children):
 * SIGSTOP/SIGCONT pause and resume the whole group, SIGTERM/SIGKILL end it. Groups still alive
 * when this process exits are killed, so a crashed worker leaves no trainer burning a GPU.
 */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GroupProcess {
  child: ChildProcess;
  pid: number;
  exited: Promise<Exit>;
  /** Last lines the process wrote to stderr (at most ~8 KB). */
  stderrTail(): string;
}

/** Spawns argv[0] with argv[1..] (never through a shell) as the leader of a new process group. */
export async function spawnGroup(argv: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; onStderrLine?: (line: string) => void }): Promise<GroupProcess> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
    });
  }
  const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    tail = (tail + d).slice(-8192);
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) opts.onStderrLine?.(l);
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const pid = child.pid!;
  liveGroups.add(pid);
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      liveGroups.delete(pid);
      // The leader is gone; make sure nothing it started outlives it.
      signalGroup(pid, 'SIGKILL');
      resolve({ code, signal });
    });
  });
  return { child, pid, exited, stderrTail: () => tail.trim().split('\n').slice(-12).join('\n') };
}

/** Sends `signal` to every process of the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/**
 * Waits until the kernel reports `pid` in (or out of) the stopped state, reading
 * /proc/<pid>/stat; resolves after `timeoutMs` either way, or at once where /proc is absent.
 */
export async function waitStopped(pid: number, stopped: boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await processState(pid);
    if (state === undefined) return false;
    if ((state === 'T' || state === 't') === stopped) return true;
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
}

async function processState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}
