import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import h5wasm from 'h5wasm/node';
import { inCI } from './ci.js';
import { repoRoot } from './proc.js';

/**
 * SLEAP fixtures. `writeSyntheticSlp` writes a labels file with h5wasm using the datasets, compound
 * dtypes and metadata JSON of real SLEAP files (as in ../shared/data/sleap), so tests run on a
 * fresh clone. Two differences h5wasm forces: `points.visible`/`complete` are int8 instead of
 * h5py's bool enum (h5wasm cannot write enum types; readers see 0/1 either way), and embedded
 * images are rows of a 2-D int8 dataset instead of a variable-length one (h5wasm writes vlen
 * strings only). Points follow a smooth function of the frame index plus Gaussian noise, so a
 * model can learn them from the frame index.
 */

/** ../shared/data/sleap, or undefined when this checkout has no ../shared next to it. */
export const sharedSleapDir: string | undefined = (() => {
  const dir = resolve(repoRoot, '../shared/data/sleap');
  return existsSync(join(dir, 'minimal_instance.pkg.slp')) ? dir : undefined;
})();
/**
 * Whether tests use the real files: when they are there, and always in CI (ci.ts), where their
 * absence is then a failure (from `sharedSleapFile`) naming what is missing, never a skip.
 */
export const useSharedSleap: boolean = sharedSleapDir !== undefined || inCI();
/** Why tests on the real files skip: only outside CI, when ../shared is absent. */
export const sharedSkipReason: string | false = useSharedSleap ? false : 'needs ../shared/data/sleap (real SLEAP files next to this checkout); absent here';

/** A real SLEAP file of ../shared/data/sleap (the one way tests name one); a clear error when the folder is absent (CI). */
export function sharedSleapFile(name: string): string {
  if (!sharedSleapDir) throw new Error(`${resolve(repoRoot, '../shared/data/sleap')} is absent: CI must provide the real SLEAP files there, next to the checkout (sleap-nn's test assets: see test/README.md, "Real SLEAP files")`);
  return join(sharedSleapDir, name);
}

export interface SyntheticSlpOptions {
  frames: number;
  instancesPerFrame: number;
  /** Node count or node names. */
  nodes: number | string[];
  /** Embed the frames' images (a .pkg.slp) instead of referring to an external video. */
  embedded?: boolean;
  /** Standard deviation of the Gaussian noise added to every coordinate, in pixels; default 1. */
  noise?: number;
  seed?: number;
  width?: number;
  height?: number;
  /** Name recorded for the (external or source) video. */
  videoFilename?: string;
}

export interface SyntheticSlp {
  path: string;
  nodes: string[];
  instances: number;
  /** Instance-major (x, y) per node, NaN for the points written as missing. */
  points: Float64Array;
  frameIdx: number[];
  missingPoints: number;
  width: number;
  height: number;
}

export async function writeSyntheticSlp(path: string, opts: SyntheticSlpOptions): Promise<SyntheticSlp> {
  await h5wasm.ready;
  const nodes = typeof opts.nodes === 'number' ? Array.from({ length: opts.nodes }, (_, j) => `node${j}`) : opts.nodes;
  const { frames: F, instancesPerFrame: K } = opts;
  const W = opts.width ?? 160;
  const H = opts.height ?? 120;
  const noise = opts.noise ?? 1;
  const rand = gaussian(opts.seed ?? 1);
  const N = nodes.length;
  const total = F * K;
  const points = new Float64Array(total * N * 2);
  const frameIdx = Array.from({ length: F }, (_, f) => f * 3);
  let missingPoints = 0;
  for (let f = 0; f < F; f++) {
    const t = F > 1 ? f / (F - 1) : 0;
    for (let k = 0; k < K; k++) {
      const i = f * K + k;
      const angle = 2 * Math.PI * t + k;
      for (let j = 0; j < N; j++) {
        const x = W * (0.2 + 0.45 * t + (0.3 * k) / Math.max(1, K)) + 5 * j * Math.cos(angle) + noise * rand();
        const y = H * (0.5 + 0.25 * Math.sin(2 * Math.PI * t)) + 5 * j * Math.sin(angle) + noise * rand();
        const missing = N > 1 && j === N - 1 && i % 5 === 4;
        if (missing) missingPoints++;
        points[(i * N + j) * 2] = missing ? Number.NaN : clamp(x, 0, W - 1);
        points[(i * N + j) * 2 + 1] = missing ? Number.NaN : clamp(y, 0, H - 1);
      }
    }
  }

  const file = new h5wasm.File(path, 'w');
  try {
    file.create_dataset({
      name: 'frames',
      data: new Map<string, unknown>([
        ['frame_id', frameIdx.map((_, f) => f)],
        ['video', frameIdx.map(() => 0)],
        ['frame_idx', frameIdx],
        ['instance_id_start', frameIdx.map((_, f) => f * K)],
        ['instance_id_end', frameIdx.map((_, f) => (f + 1) * K)],
      ]),
      shape: [F],
      dtype: [['frame_id', '<Q'], ['video', '<I'], ['frame_idx', '<Q'], ['instance_id_start', '<Q'], ['instance_id_end', '<Q']],
      maxshape: [null],
      chunks: [Math.max(1, Math.min(F, 1024))],
    });
    const ids = Array.from({ length: total }, (_, i) => i);
    file.create_dataset({
      name: 'instances',
      data: new Map<string, unknown>([
        ['instance_id', ids],
        ['instance_type', ids.map(() => 0)],
        ['frame_id', ids.map((i) => Math.floor(i / K))],
        ['skeleton', ids.map(() => 0)],
        ['track', ids.map(() => -1)],
        ['from_predicted', ids.map(() => -1)],
        ['score', ids.map(() => Number.NaN)],
        ['point_id_start', ids.map((i) => i * N)],
        ['point_id_end', ids.map((i) => (i + 1) * N)],
        ['tracking_score', ids.map(() => 0)],
      ]),
      shape: [total],
      dtype: [
        ['instance_id', '<q'], ['instance_type', '<B'], ['frame_id', '<Q'], ['skeleton', '<I'], ['track', '<i'],
        ['from_predicted', '<q'], ['score', '<f'], ['point_id_start', '<Q'], ['point_id_end', '<Q'], ['tracking_score', '<f'],
      ],
      maxshape: [null],
      chunks: [Math.max(1, Math.min(total, 1024))],
    });
    const P = total * N;
    const xs = Array.from({ length: P }, (_, p) => points[2 * p]);
    const ys = Array.from({ length: P }, (_, p) => points[2 * p + 1]);
    const vis = xs.map((x) => (Number.isNaN(x) ? 0 : 1));
    file.create_dataset({
      name: 'points',
      data: new Map<string, unknown>([['x', xs], ['y', ys], ['visible', vis], ['complete', vis]]),
      shape: [P],
      dtype: [['x', '<d'], ['y', '<d'], ['visible', '<b'], ['complete', '<b']],
      maxshape: [null],
      chunks: [Math.max(1, Math.min(P, 1024))],
    });
    file.create_dataset({
      name: 'pred_points',
      data: new Map<string, unknown>([['x', []], ['y', []], ['visible', []], ['complete', []], ['score', []]]),
      shape: [0],
      dtype: [['x', '<d'], ['y', '<d'], ['visible', '<b'], ['complete', '<b'], ['score', '<d']],
      maxshape: [null],
      chunks: [1024],
    });
    for (const name of ['suggestions_json', 'tracks_json']) {
      file.create_dataset({ name, data: new Float64Array(0), shape: [0], dtype: '<d', maxshape: [null], chunks: [1024] });
    }

    const videoFilename = opts.videoFilename ?? 'videos/synthetic.mp4';
    const external = { backend: { filename: videoFilename, grayscale: true, bgr: true, dataset: '', input_format: '', shape: [frameIdx[F - 1] + 1, H, W, 1] } };
    const video = opts.embedded ? { backend: { filename: '.', dataset: 'video0/video', input_format: 'channels_last', convert_range: false } } : external;
    const videoJson = JSON.stringify(video);
    file.create_dataset({ name: 'videos_json', data: [videoJson], shape: [1], dtype: `A${Buffer.byteLength(videoJson)}`, maxshape: [null], chunks: [1] });
    if (opts.embedded) {
      const group = file.create_group('video0');
      const pngs = frameIdx.map((_, f) => grayPng(W, H, points.subarray(f * K * N * 2, (f + 1) * K * N * 2)));
      const width = Math.max(...pngs.map((p) => p.length));
      const rows = new Int8Array(F * width);
      pngs.forEach((p, f) => rows.set(new Int8Array(p.buffer, p.byteOffset, p.length), f * width));
      const images = group.create_dataset({ name: 'video', data: rows, shape: [F, width], dtype: '<b' });
      images.create_attribute('format', 'png', [], 'S3');
      for (const [k, v] of [['height', H], ['width', W], ['channels', 1]] as const) images.create_attribute(k, v, [], '<q');
      group.create_dataset({ name: 'frame_numbers', data: frameIdx, shape: [F], dtype: '<q' });
      const source = group.create_group('source_video');
      const sourceJson = JSON.stringify(external);
      source.create_attribute('json', sourceJson, [], `S${Buffer.byteLength(sourceJson)}`);
    }

    const metadata = file.create_group('metadata');
    metadata.create_attribute('format_id', 1.2, [], '<d');
    const json = JSON.stringify(skeletonMetadata(nodes));
    metadata.create_attribute('json', json, [], `S${Buffer.byteLength(json)}`);
  } finally {
    file.close();
  }
  return { path, nodes, instances: total, points, frameIdx: frameIdx.flatMap((f) => Array<number>(K).fill(f)), missingPoints, width: W, height: H };
}

/**
 * SLEAP's jsonpickle skeleton JSON for a chain skeleton. Like real files, the file-wide node list
 * is not in the skeleton's order (it is reversed here), so readers must map the skeleton's ids.
 */
function skeletonMetadata(nodes: string[]): unknown {
  const N = nodes.length;
  const globalId = (j: number) => N - 1 - j;
  const links = nodes.slice(1).map((_, e) => ({
    edge_insert_idx: e,
    key: 0,
    source: globalId(e),
    target: globalId(e + 1),
    type: e === 0 ? { 'py/reduce': [{ 'py/type': 'sleap.skeleton.EdgeType' }, { 'py/tuple': [1] }] } : { 'py/id': 1 },
  }));
  return {
    version: '2.0.0',
    skeletons: [{ directed: true, graph: { name: 'Skeleton-0', num_edges_inserted: links.length }, links, multigraph: true, nodes: nodes.map((_, j) => ({ id: globalId(j) })) }],
    nodes: [...nodes].reverse().map((name) => ({ name, weight: 1.0 })),
    videos: [],
    tracks: [],
    suggestions: [],
    negative_anchors: {},
    provenance: {},
  };
}

/** An 8-bit grayscale PNG: a soft gradient with a bright 3x3 dot at every visible point. */
function grayPng(w: number, h: number, pts: Float64Array): Buffer {
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[y * (w + 1) + 1 + x] = 40 + Math.round((60 * x) / w);
  for (let p = 0; p + 1 < pts.length; p += 2) {
    if (Number.isNaN(pts[p])) continue;
    const cx = Math.round(pts[p]);
    const cy = Math.round(pts[p + 1]);
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      const x = cx + dx;
      const y = cy + dy;
      if (x >= 0 && x < w && y >= 0 && y < h) raw[y * (w + 1) + 1 + x] = 255;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    td.copy(out, 4);
    out.writeUInt32BE(crc32(td), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** Deterministic standard normal samples (mulberry32 + Box-Muller). */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** A valid HDF5 file that is not a SLEAP labels file (one dataset, no frames/instances/points/metadata). */
export async function writeNonSleapHdf5(path: string): Promise<void> {
  await h5wasm.ready;
  const file = new h5wasm.File(path, 'w');
  try {
    file.create_dataset({ name: 'measurements', data: new Float64Array([1, 2, 3]), shape: [3], dtype: '<d' });
  } finally {
    file.close();
  }
}
