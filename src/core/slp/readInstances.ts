import { AppError } from '../errors.js';
import { compoundColumns, compoundRows, num, withHdf5, type Dataset } from './hdf5.js';
import { readSlpHeader } from './slpFile.js';
import type { ReadInstancesOptions, SlpInstances, SlpVideoInfo } from './types.js';

/**
 * The labelled points of one skeleton's instances, as typed arrays (see SlpInstances). Reads
 * `frames`, `instances` and `points` (and `pred_points` when predicted instances are wanted) in
 * chunks; never the embedded images. Points of files older than format 1.1 are shifted by -0.5
 * px to SLEAP's current pixel-centre convention, as sleap-io does.
 */
export async function readInstances(path: string, opts: ReadInstancesOptions = {}): Promise<SlpInstances> {
  const skeletonIndex = opts.skeleton ?? 0;
  const userOnly = opts.userOnly ?? true;
  return withHdf5(path, (file) => {
    const header = readSlpHeader(file, path);
    const skeleton = header.skeletons[skeletonIndex];
    if (!skeleton) throw new AppError('bad_request', `${path} has ${header.skeletons.length} skeleton(s); there is no skeleton ${skeletonIndex}`);
    const nodeCount = skeleton.nodes.length;

    const frames = readFrames(header.frames);
    const inst = readInstanceTable(header.instances);
    // Instances in frame order, each with its frame's row (frames own ranges of instance rows).
    const selected: number[] = [];
    const frameOf: number[] = [];
    for (let r = 0; r < frames.count; r++) {
      for (let i = frames.start[r]; i < frames.end[r] && i < inst.count; i++) {
        if (inst.skeleton[i] !== skeletonIndex) continue;
        if (inst.type[i] !== 0 && (userOnly || inst.type[i] !== 1)) continue;
        selected.push(i);
        frameOf.push(r);
      }
    }

    const userPts = selected.some((i) => inst.type[i] === 0) ? readPoints(header.points) : undefined;
    const needPred = selected.some((i) => inst.type[i] === 1);
    if (needPred && !header.predPoints) throw new AppError('bad_request', `${path} has predicted instances but no pred_points dataset`);
    const predPts = needPred ? readPoints(header.predPoints!) : undefined;
    const shift = header.formatVersion < 1.1 ? -0.5 : 0;

    const count = selected.length;
    const out: SlpInstances = {
      skeleton,
      nodeCount,
      count,
      points: new Float64Array(count * nodeCount * 2),
      frameIdx: new Float64Array(count),
      frameRow: new Uint32Array(count),
      videoIndex: new Int32Array(count),
      instanceInFrame: new Int32Array(count),
      track: new Int32Array(count),
      predicted: new Uint8Array(count),
      videos: header.videos.map(videoInfo),
      formatVersion: header.formatVersion,
    };
    let lastFrame = -1;
    let ordinal = 0;
    selected.forEach((i, k) => {
      const r = frameOf[k];
      if (frames.video[r] >= header.videos.length) {
        throw new AppError('bad_request', `${path}: labelled frame ${r} refers to video ${frames.video[r]}, but the file lists ${header.videos.length}`);
      }
      const pts = inst.type[i] === 0 ? userPts! : predPts!;
      const start = inst.pointStart[i];
      const n = inst.pointEnd[i] - start;
      if (n !== nodeCount || start < 0 || start + n > pts.count) {
        throw new AppError('bad_request', `${path}: instance ${i} has ${n} points (rows ${start}..${start + n}) but its skeleton has ${nodeCount} nodes`);
      }
      for (let j = 0; j < nodeCount; j++) {
        const p = start + j;
        const x = pts.xy[2 * p];
        const y = pts.xy[2 * p + 1];
        const ok = pts.visible[p] === 1 && Number.isFinite(x) && Number.isFinite(y);
        out.points[(k * nodeCount + j) * 2] = ok ? x + shift : Number.NaN;
        out.points[(k * nodeCount + j) * 2 + 1] = ok ? y + shift : Number.NaN;
      }
      ordinal = r === lastFrame ? ordinal + 1 : 0;
      lastFrame = r;
      out.frameIdx[k] = frames.frameIdx[r];
      out.frameRow[k] = r;
      out.videoIndex[k] = frames.video[r];
      out.instanceInFrame[k] = ordinal;
      out.track[k] = inst.track[i];
      out.predicted[k] = inst.type[i] === 1 ? 1 : 0;
    });
    return out;
  }, opts);
}

function videoInfo(v: { filename: string; embedded: boolean; shape?: [number, number, number, number] }): SlpVideoInfo {
  const info: SlpVideoInfo = { filename: v.filename, embedded: v.embedded };
  if (v.shape) {
    const [frames, height, width] = v.shape;
    if (height > 0 && width > 0) Object.assign(info, { width, height });
    if (frames > 0) info.frameCount = frames;
  }
  return info;
}

function need(cols: Map<string, number>, name: string, ds: string): number {
  const c = cols.get(name);
  if (c === undefined) throw new AppError('bad_request', `dataset ${ds} has no ${name} column; this is not a SLEAP labels file`);
  return c;
}

function readFrames(ds: Dataset) {
  const cols = compoundColumns(ds, 'frames');
  const [cv, cf, cs, ce] = ['video', 'frame_idx', 'instance_id_start', 'instance_id_end'].map((n) => need(cols, n, 'frames'));
  const count = ds.shape?.[0] ?? 0;
  const video = new Int32Array(count);
  const frameIdx = new Float64Array(count);
  const start = new Float64Array(count);
  const end = new Float64Array(count);
  let r = 0;
  for (const row of compoundRows(ds)) {
    video[r] = num(row[cv]);
    frameIdx[r] = num(row[cf]);
    start[r] = num(row[cs]);
    end[r] = num(row[ce]);
    r++;
  }
  return { count, video, frameIdx, start, end };
}

function readInstanceTable(ds: Dataset) {
  const cols = compoundColumns(ds, 'instances');
  const [ct, ck, cp0, cp1] = ['instance_type', 'skeleton', 'point_id_start', 'point_id_end'].map((n) => need(cols, n, 'instances'));
  const ctr = cols.get('track');
  const count = ds.shape?.[0] ?? 0;
  const type = new Uint8Array(count);
  const skeleton = new Int32Array(count);
  const track = new Int32Array(count).fill(-1);
  const pointStart = new Float64Array(count);
  const pointEnd = new Float64Array(count);
  let i = 0;
  for (const row of compoundRows(ds)) {
    type[i] = num(row[ct]);
    skeleton[i] = num(row[ck]);
    if (ctr !== undefined) track[i] = num(row[ctr]);
    pointStart[i] = num(row[cp0]);
    pointEnd[i] = num(row[cp1]);
    i++;
  }
  return { count, type, skeleton, track, pointStart, pointEnd };
}

function readPoints(ds: Dataset) {
  const cols = compoundColumns(ds, 'points');
  const [cx, cy] = ['x', 'y'].map((n) => need(cols, n, 'points'));
  const cvis = cols.get('visible');
  const count = ds.shape?.[0] ?? 0;
  const xy = new Float64Array(count * 2);
  const visible = new Uint8Array(count).fill(1);
  let p = 0;
  for (const row of compoundRows(ds)) {
    xy[2 * p] = num(row[cx]);
    xy[2 * p + 1] = num(row[cy]);
    if (cvis !== undefined) visible[p] = num(row[cvis]) ? 1 : 0;
    p++;
  }
  return { count, xy, visible };
}
