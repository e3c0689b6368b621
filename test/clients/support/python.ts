// What the Python client's suites share: Debian's python3 (not a pyenv one on PATH: the Debian
// packages python3-nbclient, -pandas, -matplotlib, -tqdm are installed for it), run to its end
// with the client on its path, and the argv of an agent for a stack's data folder.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runToEnd, type Finished } from '../../support/proc.js';
import { bundledCli, cleanEnv } from '../../extension-agent/support/env.js';

export const debianPython = '/usr/bin/python3';
export const clientDir = join(repoRoot, 'clients', 'python');

export function requirePython(): void {
  if (!existsSync(debianPython)) throw new Error(`${debianPython} is missing: install Debian's python3 and the packages in scripts/ci-install.sh (sudo bash scripts/ci-install.sh)`);
}

export type PythonRun = Finished;

/** `/usr/bin/python3 <args>` in the repository, with the client importable and no bytecode written into the tree. */
export async function runPython(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<PythonRun> {
  const env2 = cleanEnv({ PYTHONPATH: clientDir, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', MPLBACKEND: 'Agg', ...env });
  return await runToEnd(debianPython, args, { env: env2, timeoutMs, what: `python3 ${args.join(' ')}` });
}

/** `sleap-rtc agent` for a `sleap-rtc stack --no-agent` data folder, on a free port. */
export function agentArgv(data: string, serverUrl: string): string[] {
  return [process.execPath, bundledCli, 'agent', '--data', data, '--port', '0', '--server', serverUrl, '--stack-secrets', join(data, 'stack-secrets.json')];
}
