// Detached children whose whole process group is killed at the end: code-server forks a server
// process, an extension host, a pty host and a file watcher, and killing only the pid we started
// leaves those running. Every group started here is also killed (and every temp folder registered
// with removeOnExit removed) when this process exits or is interrupted (SIGINT/SIGTERM/SIGHUP), so
// a failed or ^C'd test never leaves code-server or its folders behind.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { waitFor } from '../wait.js';

const live = new Set<number>();
const dirs = new Set<string>();
const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function killAllNow(): void {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  // The 'exit' event below runs too (and playwright's own exit hook, which kills Chromium).
  process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
}

// Installed only while something is tracked, so an idle importer keeps Node's default signal behaviour.
function tracked<T>(set: Set<T>, item: T): () => void {
  if (live.size + dirs.size === 0) {
    process.on('exit', killAllNow);
    for (const s of signals) process.on(s, onSignal);
  }
  set.add(item);
  return () => {
    set.delete(item);
    if (live.size + dirs.size === 0) {
      process.off('exit', killAllNow);
      for (const s of signals) process.off(s, onSignal);
    }
  };
}

/** Removes `dir` if this process exits or is interrupted first; call the result once it is removed. */
export function removeOnExit(dir: string): () => void {
  return tracked(dirs, dir);
}

/**
 * Whether any process of the group is still running. Zombies do not count: PID 1 in a container
 * often does not reap orphans, and a zombie holds no port or file.
 */
export function groupAlive(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    // No /proc (not Linux): signal 0 says whether the group exists at all.
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses; split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

export interface Group {
  child: ChildProcess;
  pgid: number;
  /** SIGTERM to the whole group, then SIGKILL to what is left after `graceMs`; resolves when none runs. */
  kill(graceMs?: number): Promise<void>;
}

/** Spawns `command` as the leader of a new process group that is killed on exit or interrupt. */
export function spawnGroup(command: string, args: string[], opts: SpawnOptions): Group {
  const child = spawn(command, args, { ...opts, detached: true });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pgid = child.pid;
  const untrack = tracked(live, pgid);
  // The leader may die on its own (crash); its group's other members are still ours to kill.
  const kill = async (graceMs = 3000): Promise<void> => {
    const signal = (s: NodeJS.Signals): void => {
      try {
        process.kill(-pgid, s);
      } catch {
        // no member left
      }
    };
    signal('SIGTERM');
    try {
      await waitFor(async () => (groupAlive(pgid) ? undefined : true), `process group ${pgid} to exit after SIGTERM`, graceMs, { intervalMs: 50 });
    } catch {
      signal('SIGKILL');
      await waitFor(async () => (groupAlive(pgid) ? undefined : true), `process group ${pgid} to exit after SIGKILL`, 5000, { intervalMs: 50 });
    } finally {
      untrack();
    }
  };
  return { child, pgid, kill };
}
