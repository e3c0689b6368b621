import { AppError } from '../../../core/errors.js';
import type { SlpInstances } from '../../../core/slp/index.js';
import type { Samples } from './Mlp.js';
import { seededRandom, shuffle } from './random.js';

/**
 * Turns labelled instances into samples for the builtin model. Input features describe where the
 * instance sits in time and in its frame: t = frame index / (video length - 1), sin 2πt, cos 2πt,
 * and the instance's ordinal in its frame scaled to [0, 1]. Targets are every node's (x, y)
 * divided by the image size when the file records it, otherwise min-max scaled over the dataset,
 * so they sit near [0, 1]; missing points are masked out of the loss.
 */
export const FEATURES = ['t', 'sin(2*pi*t)', 'cos(2*pi*t)', 'instance_ordinal'] as const;

export interface Normalisation {
  /** Per video: x_norm = (x - offsetX) / scaleX, likewise y. */
  videos: { offsetX: number; scaleX: number; offsetY: number; scaleY: number; frameSpan: number }[];
  maxInstancesPerFrame: number;
}

export interface BuiltinDataset extends Samples {
  count: number;
  inputs: number;
  outputs: number;
  train: Int32Array;
  val: Int32Array;
  norm: Normalisation;
  /** Instances dropped because none of their points is labelled. */
  dropped: number;
}

export function buildDataset(inst: SlpInstances, opts: { validationFraction: number; seed: number; path: string }): BuiltinDataset {
  const N = inst.nodeCount;
  const outputs = 2 * N;
  const keep: number[] = [];
  for (let i = 0; i < inst.count; i++) {
    let any = false;
    for (let j = 0; j < outputs && !any; j++) any = !Number.isNaN(inst.points[i * outputs + j]);
    if (any) keep.push(i);
  }
  if (keep.length === 0) {
    throw new AppError('bad_request', `${opts.path} has no user-labelled instances with labelled points to train on (skeleton ${inst.skeleton.name})`);
  }

  // Data range per axis, for videos whose image size the file does not record.
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const i of keep) {
    for (let j = 0; j < N; j++) {
      const x = inst.points[(i * N + j) * 2];
      const y = inst.points[(i * N + j) * 2 + 1];
      if (Number.isNaN(x)) continue;
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
  }
  const lastFrame = new Map<number, number>();
  let maxPerFrame = 1;
  for (const i of keep) {
    const v = inst.videoIndex[i];
    lastFrame.set(v, Math.max(lastFrame.get(v) ?? 0, inst.frameIdx[i]));
    maxPerFrame = Math.max(maxPerFrame, inst.instanceInFrame[i] + 1);
  }
  const norm: Normalisation = {
    maxInstancesPerFrame: maxPerFrame,
    videos: inst.videos.map((v, k) => {
      const span = Math.max(1, (v.frameCount ?? (lastFrame.get(k) ?? 0) + 1) - 1);
      if (v.width && v.height) return { offsetX: 0, scaleX: v.width, offsetY: 0, scaleY: v.height, frameSpan: span };
      return { offsetX: minX, scaleX: maxX - minX || 1, offsetY: minY, scaleY: maxY - minY || 1, frameSpan: span };
    }),
  };

  const count = keep.length;
  const inputs = FEATURES.length;
  const x = new Float64Array(count * inputs);
  const y = new Float64Array(count * outputs);
  const mask = new Float64Array(count * outputs);
  keep.forEach((i, s) => {
    const vn = norm.videos[inst.videoIndex[i]];
    x.set(features(inst.frameIdx[i], inst.instanceInFrame[i], vn.frameSpan, maxPerFrame), s * inputs);
    for (let j = 0; j < N; j++) {
      const px = inst.points[(i * N + j) * 2];
      const py = inst.points[(i * N + j) * 2 + 1];
      if (Number.isNaN(px)) continue;
      y[s * outputs + 2 * j] = (px - vn.offsetX) / vn.scaleX;
      y[s * outputs + 2 * j + 1] = (py - vn.offsetY) / vn.scaleY;
      mask[s * outputs + 2 * j] = 1;
      mask[s * outputs + 2 * j + 1] = 1;
    }
  });

  // Seeded split: at least one validation sample whenever there are two or more samples.
  const order = new Int32Array(count).map((_, i) => i);
  shuffle(order, seededRandom(opts.seed));
  const fraction = Math.min(Math.max(opts.validationFraction, 0), 0.9);
  const nVal = count < 2 || fraction === 0 ? 0 : Math.min(count - 1, Math.max(1, Math.round(count * fraction)));
  return {
    x, y, mask, count, inputs, outputs, norm,
    val: order.slice(0, nVal),
    train: order.slice(nVal),
    dropped: inst.count - count,
  };
}

/** The model's input for an instance at `frameIdx` with ordinal `ordinal` in its frame. */
export function features(frameIdx: number, ordinal: number, frameSpan: number, maxInstancesPerFrame: number): number[] {
  const t = frameIdx / frameSpan;
  return [t, Math.sin(2 * Math.PI * t), Math.cos(2 * Math.PI * t), maxInstancesPerFrame > 1 ? ordinal / (maxInstancesPerFrame - 1) : 0];
}
