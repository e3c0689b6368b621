import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { AppError } from '../core/errors.js';

/**
 * One agent (or `sleap-rtc upload`) per data folder: `<data>/agent/agent.lock` holds the owner's
 * pid. A lock whose pid is dead is stale and taken over; a live one is refused with
 * AppError('conflict', ..., {details: {lock: file, pid}}) (the CLI exits 2).
 */
export interface HeldLock {
  file: string;
  release(): void;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLock(file: string, what: string): HeldLock {
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new AppError('storage_error', `cannot create the lock file ${file}: ${(e as Error).message}`, { cause: e });
      let pid: number;
      try {
        pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
      } catch {
        continue;
      }
      if (alive(pid)) {
        throw new AppError('conflict', `another sleap-rtc agent or upload (pid ${pid}) is using this data folder (${file}); stop it, send the upload through its API, or use another --data folder`, { details: { lock: file, pid } });
      }
      try {
        unlinkSync(file);
      } catch {
        // Someone else took the stale lock over first: try again.
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    let released = false;
    return {
      file,
      release() {
        if (released) return;
        released = true;
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
        } catch {
          // Already gone.
        }
      },
    };
  }
  throw new AppError('conflict', `cannot take the lock ${file} for ${what}: it keeps changing; try again`);
}
