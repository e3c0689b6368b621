import { realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { AppError } from '../core/errors.js';

/**
 * `--allowed-roots`: the folders under which the API may read (uploads, watched folders, a job's
 * local dataset) and write (model downloads). A page or process that gets the token should not
 * make the agent read ~/.ssh or write into ~/.bashrc's folder. Paths are compared as real paths,
 * so a symlink inside a root that points outside it is outside; a path that does not exist yet
 * (a download's dest) is judged by its nearest existing parent.
 */
export interface AllowedRoots {
  /** Throws `forbidden` naming the roots and the flag when `path` is outside every root. */
  check(path: string, what: string): Promise<void>;
}

/** No flag: every path, as before. */
const anywhere: AllowedRoots = { check: async () => undefined };

export function allowedRoots(roots: readonly string[] | undefined): AllowedRoots {
  if (!roots || roots.length === 0) return anywhere;
  const real = roots.map((r) => {
    try {
      return realpathSync(resolve(r));
    } catch (e) {
      throw new AppError('config_invalid', `--allowed-roots: ${resolve(r)} cannot be used as a root (${(e as NodeJS.ErrnoException).code}); give existing folders, comma-separated`);
    }
  });
  const inside = (p: string) => real.some((r) => {
    const rel = relative(r, p);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  });
  return {
    async check(path, what) {
      const abs = resolve(path);
      if (!inside(await realOrNearest(abs))) {
        throw new AppError('forbidden', `${what} ${abs} is outside this agent's allowed roots (${real.join(', ')}; --allowed-roots): use a path under one of them, or restart the agent with --allowed-roots naming its folder`);
      }
    },
  };
}

/** The real path of `abs`, or of its nearest existing parent joined with the rest. */
async function realOrNearest(abs: string): Promise<string> {
  const rest: string[] = [];
  let p = abs;
  for (;;) {
    try {
      return join(await realpath(p), ...rest.reverse());
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(p) === p) throw new AppError('forbidden', `${abs} cannot be checked against --allowed-roots (${code})`);
      rest.push(basename(p));
      p = dirname(p);
    }
  }
}
