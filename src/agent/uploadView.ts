import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { SlpSummaryView, UploadView } from '../core/schemas/agent.js';
import type { SlpSummary } from '../core/slp/index.js';
import type { TransferProgress } from '../core/transfer/index.js';
import type { OutageWaiting } from '../core/transfer/outage.js';
import type { LedgerFile, LedgerUpload } from './Ledger.js';

/**
 * An upload record as the manager keeps it: the ledger's, plus the summary of its labels file
 * read when it was added (stored with the record, so it survives restarts).
 */
/** An upload as the ledger keeps it (the h5wasm summary included). */
export type UploadRecord = LedgerUpload;

/** The API's form of a labels file summary (core/slp's SlpSummary). */
export function slpSummaryView(file: string, s: SlpSummary): SlpSummaryView {
  return {
    file,
    format: s.format,
    format_version: s.formatVersion,
    labeled_frames: s.labeledFrames,
    instances: s.instances,
    user_instances: s.userInstances,
    predicted_instances: s.predictedInstances,
    videos: s.videos.map((v) => {
      const [frames, height, width] = v.shape ?? [];
      const int = (n: number | undefined) => (n !== undefined && Number.isInteger(n) && n > 0 ? n : undefined);
      return { filename: v.filename, embedded: v.embedded, ...(int(frames) ? { frames } : {}), ...(int(height) ? { height } : {}), ...(int(width) ? { width } : {}) };
    }),
    skeletons: s.skeletons.map((k) => ({ name: k.name, nodes: [...k.nodes] })),
    external_videos: [...s.externalVideos],
  };
}

/** One line for a terminal: "labels.slp: 8 labelled frames, 16 user instances, 1 video (embedded), skeleton Skeleton-0 (4 nodes: ...)". */
export function describeSlp(v: SlpSummaryView): string {
  const embedded = v.videos.filter((x) => x.embedded).length;
  const videos = `${v.videos.length} video${v.videos.length === 1 ? '' : 's'}${v.videos.length ? ` (${embedded === v.videos.length ? 'embedded' : embedded === 0 ? 'external' : `${embedded} embedded`})` : ''}`;
  const skeletons = v.skeletons.map((k) => `skeleton ${k.name} (${k.nodes.length} nodes: ${k.nodes.slice(0, 8).join(', ')}${k.nodes.length > 8 ? ', ...' : ''})`).join('; ');
  return `${v.file}: ${v.labeled_frames} labelled frames, ${v.user_instances} user instances${v.predicted_instances ? ` + ${v.predicted_instances} predicted` : ''}, ${videos}, ${skeletons || 'no skeleton'}`;
}

/** The object a folder dataset's manifest is stored as, last, under the dataset's prefix. */
export const MANIFEST_NAME = 'sleap-rtc-manifest.json';

/** What a running upload knows beyond the ledger. */
export interface RunProgress {
  progress?: TransferProgress;
  /** Bytes of files finished in this dataset. */
  doneBytes: number;
  /** What resumed files found on the server and kept (summed over the dataset's files). */
  resumed?: { parts_reused: number; part_count: number; bytes_reused: number };
  /** S3 or the backend does not answer: the transfer waits for it (outage.ts). */
  waiting?: OutageWaiting;
}

/** The API's view of an upload (core/schemas/agent.ts uploadView). */
export function uploadView(u: UploadRecord, run: RunProgress | undefined): UploadView {
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
    ...(run?.progress ? { rate_bps: Math.round(run.progress.rateBps), ...(run.progress.etaS !== null ? { eta_s: Math.round(run.progress.etaS) } : {}), ...(run.progress.concurrency !== undefined ? { concurrency: run.progress.concurrency } : {}) } : {}),
    ...(done ? { key: done.key, bucket: done.bucket, s3_path: prefix ?? done.s3Path } : main?.session ? { key: main.session.key, bucket: main.session.bucket } : {}),
    ...(main?.sha256 ? { sha256: main.sha256 } : {}),
    ...(u.error ? { error: u.error } : {}),
    warnings: [...u.warnings],
    ...(u.slp ? { slp: u.slp } : {}),
    ...(run?.resumed ? { resumed: { ...run.resumed } } : {}),
    ...(run?.waiting ? { waiting: { since: new Date(run.waiting.since).toISOString(), service: run.waiting.service, endpoint: run.waiting.endpoint, reason: run.waiting.reason, waited_s: Math.max(0, Math.floor((Date.now() - run.waiting.since) / 1000)) } } : {}),
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
