import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Files under `dir`, relative to it, sorted; [] when it does not exist. */
export async function listArtifacts(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [];
      throw e;
    });
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Deletes model checkpoints (*.ckpt, anywhere under dir): what "cancel keeps no model" means. */
export async function removeModels(dir: string): Promise<void> {
  for (const f of await listArtifacts(dir)) if (f.endsWith('.ckpt')) await rm(join(dir, f), { force: true });
}

/** Writes via a temporary name and rename, so readers never see half a file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** `training_log.csv` columns, as sleap-nn writes them. */
export const TRAINING_LOG_HEADER = 'epoch,train_loss,val_loss,learning_rate,train_time,val_time';

export function trainingLogRow(r: { epoch: number; trainLoss: number; valLoss?: number; learningRate: number; trainTime: number; valTime: number }): string {
  const f = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : String(v));
  return [r.epoch, f(r.trainLoss), f(r.valLoss), f(r.learningRate), f(r.trainTime), f(r.valTime)].join(',');
}
