import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../../core/processAlive.js';

/**
 * `<data>/agent/launch.lock`: held by the one client that is starting an agent for a data folder,
 * so that several windows opened at once (VS Code restoring a session) start one agent, not one
 * each that all but one would see die on the agent's own lock. The others wait for the
 * connection file instead. A lock whose process has ended, or older than `staleMs` (its holder
 * hung), is taken over.
 */
export interface LaunchLock {
  release(): void;
}

export function launchLockFile(dataDir: string): string {
  return join(dataDir, 'agent', 'launch.lock');
}

/** Takes the lock, or undefined when another client holds it. */
export function tryLaunchLock(dataDir: string, staleMs = 120_000): LaunchLock | undefined {
  const file = launchLockFile(dataDir);
  mkdirSync(join(dataDir, 'agent'), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!stale(file, staleMs)) return undefined;
      try {
        unlinkSync(file);
      } catch {
        // Another client took the stale lock over first: try again.
      }
      continue;
    }
    // A token of our own, so that release never removes a lock someone has taken over since.
    const mine = `${process.pid} ${Date.now()} ${Math.random()}`;
    writeSync(fd, mine + '\n');
    closeSync(fd);
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        try {
          if (readFileSync(file, 'utf8').trim() === mine) unlinkSync(file);
        } catch {
          // Already gone.
        }
      },
    };
  }
  return undefined;
}

function stale(file: string, staleMs: number): boolean {
  try {
    const text = readFileSync(file, 'utf8');
    const age = Date.now() - statSync(file).mtimeMs;
    // Empty: its holder has created it and not yet written its pid (or died right then).
    if (text === '') return age > 5000;
    return !processAlive(Number.parseInt(text, 10)) || age > staleMs;
  } catch {
    // Vanished meanwhile: free.
    return true;
  }
}
