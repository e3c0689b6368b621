import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { UploadView } from '../core/schemas/agent.js';
import type { TransferProgress } from '../core/transfer/index.js';
import type { LedgerFile, LedgerUpload } from './Ledger.js';

/** The object a folder dataset's manifest is stored as, last, under the dataset's prefix. */
export const MANIFEST_NAME = 'sleap-rtc-manifest.json';

/** What a running upload knows beyond the ledger. */
export interface RunProgress {
  progress?: TransferProgress;
  /** Bytes of files finished in this dataset. */
  doneBytes: number;
}

/** The API's view of an upload (core/schemas/agent.ts uploadView). */
export function uploadView(u: LedgerUpload, run: RunProgress | undefined): UploadView {
  let bytes = 0;
  for (const f of u.files) bytes += f.done ? f.done.size : Object.values(f.parts).reduce((s, p) => s + p.size, 0);
  if (run?.progress) bytes = Math.max(bytes, run.doneBytes + run.progress.bytesDone);
  const main = u.dataset === 'folder' ? u.manifest : u.files[0];
  const done = main?.done;
  const prefix = u.dataset === 'folder' && done ? done.s3Path.slice(0, done.s3Path.length - MANIFEST_NAME.length) : undefined;
  return {
    id: u.id,
    path: u.path,
    state: u.state,
    size: u.size,
    bytes_done: Math.min(u.size, bytes),
    ...(run?.progress ? { rate_bps: Math.round(run.progress.rateBps), ...(run.progress.etaS !== null ? { eta_s: Math.round(run.progress.etaS) } : {}) } : {}),
    ...(done ? { key: done.key, bucket: done.bucket, s3_path: prefix ?? done.s3Path } : main?.session ? { key: main.session.key, bucket: main.session.bucket } : {}),
    ...(main?.sha256 ? { sha256: main.sha256 } : {}),
    ...(u.error ? { error: u.error } : {}),
    warnings: [...u.warnings],
  };
}

/** Writes a folder dataset's manifest (every file's relative path, size, SHA-256 and key) for upload. */
export async function writeDatasetManifest(u: LedgerUpload, dir: string): Promise<LedgerFile> {
  const manifest = {
    version: 1,
    dataset: basename(u.path),
    prefix_id: u.prefixId,
    files: u.files.map((f) => ({ relative_path: f.relativePath, size: f.done!.size, sha256: f.sha256, key: f.done!.key })),
    created_at: new Date().toISOString(),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${u.id}.json`);
  await writeFile(path, JSON.stringify(manifest, null, 2) + '\n');
  return { path, relativePath: MANIFEST_NAME, parts: {} };
}
