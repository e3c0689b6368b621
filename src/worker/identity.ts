import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * The worker's peer id: the configured one, else the one kept in `<dir>/peer-id` (so a restart
 * keeps it), else a new `worker-<hostname>-<random>` written there.
 */
export async function loadPeerId(dir: string, explicit?: string): Promise<string> {
  if (explicit) return explicit;
  const file = join(dir, 'peer-id');
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (/^[A-Za-z0-9._:-]{1,128}$/.test(kept)) return kept;
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 64) || 'host';
  const id = `worker-${host}-${randomBytes(3).toString('hex')}`;
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, id + '\n');
  await rename(tmp, file);
  return id;
}

export interface GpuInfo {
  gpu_model: string | null;
  gpu_memory_mb: number | null;
}

/** The first GPU nvidia-smi reports; nulls when nvidia-smi is absent or fails. */
export function detectGpu(timeoutMs = 5000): Promise<GpuInfo> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { timeout: timeoutMs }, (err, stdout) => {
      if (err) return resolve({ gpu_model: null, gpu_memory_mb: null });
      resolve(parseNvidiaSmi(stdout));
    });
  });
}

export function parseNvidiaSmi(stdout: string): GpuInfo {
  const first = stdout.split('\n').map((l) => l.trim()).find(Boolean);
  if (!first) return { gpu_model: null, gpu_memory_mb: null };
  const comma = first.lastIndexOf(',');
  const name = (comma < 0 ? first : first.slice(0, comma)).trim();
  const mem = comma < 0 ? NaN : Number(first.slice(comma + 1).trim());
  return { gpu_model: name || null, gpu_memory_mb: Number.isFinite(mem) ? Math.round(mem) : null };
}
