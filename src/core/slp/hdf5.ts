import { open, stat } from 'node:fs/promises';
import h5wasm, { type Dataset, type File as H5File, type Group } from 'h5wasm/node';
import { AppError } from '../errors.js';

/**
 * h5wasm access for SLEAP files. The Node build of h5wasm reads real paths through Emscripten's
 * NODERAWFS, so opening a file reads only the bytes HDF5 asks for (headers, then the datasets we
 * read); multi-GB embedded images stay on disk. Before HDF5 sees a file we check its signature and
 * its superblock's end-of-file address ourselves, so a wrong or truncated upload gets a plain
 * message instead of an HDF5 error stack.
 */

export const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

let ready: Promise<void> | undefined;

/** Loads the WebAssembly module once and makes HDF5 errors throw instead of printing to stderr. */
export function h5Ready(): Promise<void> {
  ready ??= h5wasm.ready.then((module) => {
    module.activate_throwing_error_handler();
  });
  return ready;
}

export { h5wasm };
export type { Dataset, Group, H5File };

/**
 * Checks that `path` is a complete HDF5 file: the signature at offset 0, 512, 1024, ... (HDF5
 * allows a user block before it) and a file at least as long as the superblock says.
 */
export async function checkHdf5File(path: string, what = 'SLEAP labels file'): Promise<void> {
  const info = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new AppError(e.code === 'ENOENT' ? 'not_found' : 'bad_request', `${what} ${path} cannot be read: ${e.code ?? e.message}`, { cause: e });
  });
  if (!info.isFile()) throw new AppError('bad_request', `${what} ${path} is not a regular file`);
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64);
    let base = -1;
    for (let offset = 0; offset + 8 <= info.size; offset = offset === 0 ? 512 : offset * 2) {
      const { bytesRead } = await fh.read(buf, 0, 64, offset);
      if (bytesRead >= 8 && buf.subarray(0, 8).equals(HDF5_SIGNATURE)) {
        base = offset;
        break;
      }
    }
    if (base < 0) {
      throw new AppError('bad_request', `${path} is not an HDF5 file (no HDF5 signature), so it is not a SLEAP .slp / .pkg.slp file`);
    }
    const { bytesRead } = await fh.read(buf, 0, 64, base);
    const declared = superblockEof(buf.subarray(0, bytesRead));
    if (declared !== undefined && base + declared > info.size) {
      throw new AppError(
        'bad_request',
        `${path} is truncated: it has ${info.size} bytes but its HDF5 header says ${base + declared}; the copy or upload was probably interrupted`,
      );
    }
  } finally {
    await fh.close();
  }
}

/** End-of-file address from an HDF5 superblock (versions 0-3), or undefined when unreadable. */
export function superblockEof(sb: Buffer): number | undefined {
  if (sb.length < 16) return undefined;
  const version = sb[8];
  let sizeOfOffsets: number;
  let eofAt: number;
  if (version === 0 || version === 1) {
    sizeOfOffsets = sb[13];
    // signature 8, versions and sizes 8, leaf/internal K 4, flags 4, [v1: K 2 + reserved 2],
    // then base address, free-space address, end-of-file address.
    eofAt = (version === 0 ? 24 : 28) + 2 * sizeOfOffsets;
  } else if (version === 2 || version === 3) {
    sizeOfOffsets = sb[9];
    eofAt = 12 + 2 * sizeOfOffsets;
  } else {
    return undefined;
  }
  if (sizeOfOffsets !== 8 && sizeOfOffsets !== 4) return undefined;
  if (sb.length < eofAt + sizeOfOffsets) return undefined;
  const value = sizeOfOffsets === 8 ? sb.readBigUInt64LE(eofAt) : BigInt(sb.readUInt32LE(eofAt));
  const undefinedAddress = sizeOfOffsets === 8 ? 0xffffffffffffffffn : 0xffffffffn;
  if (value === undefinedAddress || value > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(value);
}

/** Opens an HDF5 file read-only after `checkHdf5File`; HDF5 errors become AppError('bad_request'). */
export async function openHdf5(path: string, what = 'SLEAP labels file'): Promise<H5File> {
  await checkHdf5File(path, what);
  await h5Ready();
  try {
    return new h5wasm.File(path, 'r');
  } catch (e) {
    throw new AppError('bad_request', `${path} could not be opened as HDF5: ${hdf5Reason(e)}`, { cause: e });
  }
}

/**
 * Runs `fn` on an open file and always closes it; HDF5 errors inside become bad_request. `fn`
 * runs synchronously (h5wasm is synchronous), so `signal` is checked once the file is open.
 */
export async function withHdf5<T>(path: string, fn: (file: H5File) => T, opts: { signal?: AbortSignal; what?: string } = {}): Promise<T> {
  const file = await openHdf5(path, opts.what);
  try {
    if (opts.signal?.aborted) throw new AppError('aborted', `reading ${path} was aborted`);
    return fn(file);
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('bad_request', `${path} could not be read: ${hdf5Reason(e)}`, { cause: e });
  } finally {
    try {
      file.close();
    } catch {
      // closing a file whose open failed halfway has nothing left to release
    }
  }
}

/** The innermost message of an HDF5 error stack ("truncated file: eof = ..."), or the error text. */
export function hdf5Reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const lines = [...text.matchAll(/#\d+:.*? in [\w.]+\(\): (.*)$/gm)].map((m) => m[1].trim());
  return lines.length > 0 ? lines[lines.length - 1] : text.split('\n')[0];
}

/** The dataset at `name`, or undefined when absent or not a dataset. */
export function datasetAt(group: Group, name: string): Dataset | undefined {
  const item = group.get(name);
  return item instanceof h5wasm.Dataset ? item : undefined;
}

export function groupAt(group: Group, name: string): Group | undefined {
  const item = group.get(name);
  return item instanceof h5wasm.Group ? item : undefined;
}

/** Column index of each member of a compound dataset, by name. */
export function compoundColumns(ds: Dataset, path: string): Map<string, number> {
  const dtype = ds.dtype;
  if (!Array.isArray(dtype) || !Array.isArray(dtype[0])) {
    throw new AppError('bad_request', `dataset ${path} is not a compound table; this is not a SLEAP labels file SLEAP wrote`);
  }
  return new Map((dtype as [string, unknown][]).map(([name], i) => [name, i]));
}

/** Reads rows [start, end) of a compound dataset as arrays of member values, `chunk` rows at a time. */
export function* compoundRows(ds: Dataset, start = 0, end = ds.shape?.[0] ?? 0, chunk = 65_536): Generator<unknown[]> {
  for (let from = start; from < end; from += chunk) {
    const rows = ds.slice([[from, Math.min(end, from + chunk)]]) as unknown[][] | null;
    if (!rows) return;
    for (const row of rows) yield row;
  }
}

/** A number from an HDF5 value that h5wasm may return as bigint (64-bit integers). */
export function num(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number.NaN;
}

/** A string attribute or string dataset element (fixed or variable length). */
export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v).replace(/\0+$/, '');
  return undefined;
}
