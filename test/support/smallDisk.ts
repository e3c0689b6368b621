import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SmallDisk {
  dir: string;
  /** Unmounts it and removes the mount point. */
  remove(): Promise<void>;
}

/** mount/umount as root, else through passwordless sudo (as scripts/ci-install.sh does for apt). */
const privileged = (argv: string[]): Promise<unknown> => (process.getuid?.() === 0 ? run(argv[0]!, argv.slice(1)) : run('sudo', ['-n', ...argv]));

/**
 * A filesystem of `mib` MiB (a tmpfs) mounted on a fresh temp folder: a disk that really fills up
 * (ENOSPC from the kernel, not a simulated error). Needs root or passwordless sudo: a failure that
 * says so, not a skip.
 */
export async function mountSmallDisk(mib: number): Promise<SmallDisk> {
  const dir = await mkdtemp(join(tmpdir(), 'small-disk-'));
  try {
    await privileged(['mount', '-t', 'tmpfs', '-o', `size=${mib}m,mode=0777`, 'tmpfs', dir]);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot mount a ${mib} MiB tmpfs for a full-disk test (needs root or passwordless sudo): ${(e as Error).message}`, { cause: e });
  }
  return {
    dir,
    async remove() {
      // A failed umount is said (a tmpfs left mounted), and the folder is then left alone.
      await privileged(['umount', dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
