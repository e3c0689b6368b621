import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { AppError } from '../core/errors.js';
import { inspectSlp, type SlpSummary } from '../core/slp/index.js';
import type { FileFingerprint } from './Ledger.js';

/**
 * What `sleap-rtc upload` and the agent accept: a `.slp` / `.pkg.slp` (HDF5), a `.zip`, or a
 * folder (uploaded as one object per file under one prefix, with a manifest last). Files that
 * are not what their name claims are refused with a message saying what is wrong.
 */
export interface DatasetFile {
  path: string;
  /** Key suffix under the dataset prefix ("/"-separated). */
  relativePath: string;
  size: number;
}

/** A labels file of the dataset as h5wasm read it. */
export interface DatasetLabels {
  relativePath: string;
  summary: SlpSummary;
}

export interface Dataset {
  kind: 'file' | 'folder';
  path: string;
  files: DatasetFile[];
  size: number;
  /** Every `.slp` / `.pkg.slp` of the dataset, opened with h5wasm (in path order). */
  labels: DatasetLabels[];
}

const ZIP_SIGNATURES = [Buffer.from('PK\x03\x04', 'latin1'), Buffer.from('PK\x05\x06', 'latin1')];

export function datasetKindOf(name: string): 'slp' | 'zip' | undefined {
  const n = name.toLowerCase();
  if (n.endsWith('.slp')) return 'slp';
  if (n.endsWith('.zip')) return 'zip';
  return undefined;
}

async function readable(path: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
    // access() answers for the real uid; reading a byte proves it (root, odd file systems).
    const fh = await open(path, 'r');
    await fh.close();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AppError('not_found', `${path} does not exist; check the path`);
    if (code === 'EACCES' || code === 'EPERM') throw new AppError('forbidden', `${path} cannot be read by this user (${code}); fix its permissions (chmod u+r) or run as its owner`);
    throw new AppError('bad_request', `${path} cannot be read: ${code ?? (e as Error).message}`, { cause: e });
  }
}

/**
 * Opens a labels file with h5wasm (headers and the instance table only, never the images) and
 * refuses one that is not HDF5, is cut short, or is HDF5 without SLEAP's datasets.
 */
export async function inspectLabels(path: string): Promise<SlpSummary> {
  try {
    return await inspectSlp(path);
  } catch (e) {
    if (!(e instanceof AppError) || e.code !== 'bad_request') throw e;
    const whatToDo = /truncated/.test(e.message)
      ? 'copy it again in full (or save it again from SLEAP), then retry'
      : 'give a labels file saved by SLEAP (.slp) or a labels package (File > Export > Labels Package, .pkg.slp)';
    throw new AppError('bad_request', `${e.message}; ${whatToDo}`, { cause: e });
  }
}

/** Refuses a file that is not what its name claims; a labels file's summary for `.slp` / `.pkg.slp`. */
export async function checkDatasetFile(path: string): Promise<SlpSummary | undefined> {
  await readable(path);
  const kind = datasetKindOf(path);
  if (kind === 'slp') return inspectLabels(path);
  if (kind === 'zip') {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(4);
      const { bytesRead } = await fh.read(buf, 0, 4, 0);
      if (bytesRead < 4 || !ZIP_SIGNATURES.some((s) => s.equals(buf))) {
        throw new AppError('bad_request', `${path} is not a zip archive (no PK signature at its start); give a real .zip, a .slp / .pkg.slp, or a folder`);
      }
    } finally {
      await fh.close();
    }
    return undefined;
  }
  throw new AppError('bad_request', `${path} is not a dataset: give a .slp or .pkg.slp labels file, a .zip, or a folder holding them`);
}

async function walk(root: string, dir: string, out: DatasetFile[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AppError(code === 'EACCES' ? 'forbidden' : 'bad_request', `the folder ${dir} cannot be listed (${code}); fix its permissions`, { cause: e });
  }
  for (const ent of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (ent.name.startsWith('.')) continue;
    const p = join(dir, ent.name);
    if (ent.isDirectory()) await walk(root, p, out);
    else if (ent.isFile()) {
      await readable(p);
      out.push({ path: p, relativePath: relative(root, p).split(sep).join('/'), size: (await stat(p)).size });
    }
  }
}

/** Resolves and validates a dataset path. */
export async function resolveDataset(input: string): Promise<Dataset> {
  const path = resolve(input);
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new AppError('not_found', `${path} does not exist; check the path`);
    throw new AppError(code === 'EACCES' ? 'forbidden' : 'bad_request', `${path} cannot be read (${code}); fix its permissions or the path`, { cause: e });
  }
  if (st.isFile()) {
    const summary = await checkDatasetFile(path);
    const relativePath = basename(path);
    return { kind: 'file', path, files: [{ path, relativePath, size: st.size }], size: st.size, labels: summary ? [{ relativePath, summary }] : [] };
  }
  if (!st.isDirectory()) {
    throw new AppError('bad_request', `${path} is ${specialKind(st)}, not a regular file or a folder; give the path of a .slp, .pkg.slp or .zip file, or of a folder holding them`);
  }
  const files: DatasetFile[] = [];
  await walk(path, path, files);
  const labels = files.filter((f) => datasetKindOf(f.path) !== undefined);
  if (labels.length === 0) {
    throw new AppError('bad_request', `the folder ${path} holds no dataset: put .slp / .pkg.slp labels files (or a .zip) in it, or give the path of one file`);
  }
  const inspected: DatasetLabels[] = [];
  for (const f of labels) {
    const summary = await checkDatasetFile(f.path);
    if (summary) inspected.push({ relativePath: f.relativePath, summary });
  }
  return { kind: 'folder', path, files, size: files.reduce((s, f) => s + f.size, 0), labels: inspected };
}

function specialKind(st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'a special file';
}

/**
 * What the researcher should know about a dataset's labels files before training: videos the
 * worker cannot read (external paths), a `.pkg.slp` that embeds no frames, nothing to train on.
 */
export function labelsWarnings(ds: Pick<Dataset, 'kind' | 'labels'>): string[] {
  const out: string[] = [];
  for (const { relativePath, summary } of ds.labels) {
    const name = `${relativePath}: `;
    if (relativePath.toLowerCase().endsWith('.pkg.slp') && summary.externalVideos.length > 0) {
      out.push(`${name}named .pkg.slp but ${summary.externalVideos.length} of its ${summary.videos.length} videos are not embedded (only referenced by path)`);
    }
    for (const w of summary.warnings) out.push(`${name}${w}`);
  }
  return out;
}

/**
 * Why `trainer` cannot train on this dataset, or undefined. sleap-nn trains on the frames, which
 * it reads from the videos the labels file names: a video that is only referenced by a path on
 * this machine is not on the worker, so the job would upload the file and then fail there. The
 * builtin trainer learns from the points alone (worker/trainers/builtin/dataset.ts reads no
 * image), and what a command trainer reads is its own business: for those the warnings stand.
 */
export function missingImagesFor(trainer: string, ds: Pick<Dataset, 'labels'>): string | undefined {
  if (trainer !== 'sleap-nn') return undefined;
  const missing = ds.labels.flatMap(({ relativePath, summary }) => summary.externalVideos.map((v) => `${v} (of ${relativePath})`));
  if (missing.length === 0) return undefined;
  return `the ${trainer} trainer trains on images, but ${missing.length === 1 ? 'this video is' : `these ${missing.length} videos are`} not embedded, only referenced by a path the worker cannot read: ${missing.join(', ')}; nothing was uploaded. Export a .pkg.slp (File > Export > Labels Package) to embed the frames, or train with --trainer builtin (it learns from the points alone)`;
}

const EDGE = 1024 * 1024;

/** size, mtime and a SHA-256 of the first and last MiB: cheap, and enough to tell a changed file. */
export async function fingerprint(path: string): Promise<FileFingerprint> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    const h = createHash('sha256');
    const head = Buffer.alloc(Math.min(EDGE, st.size));
    await fh.read(head, 0, head.length, 0);
    h.update(head);
    if (st.size > EDGE) {
      const tail = Buffer.alloc(Math.min(EDGE, st.size - EDGE));
      await fh.read(tail, 0, tail.length, st.size - tail.length);
      h.update(tail);
    }
    return { size: st.size, mtimeMs: st.mtimeMs, edges: h.digest('hex') };
  } finally {
    await fh.close();
  }
}

export function sameFingerprint(a: FileFingerprint | undefined, b: FileFingerprint): boolean {
  return !!a && a.size === b.size && a.mtimeMs === b.mtimeMs && a.edges === b.edges;
}
