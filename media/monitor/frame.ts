/**
 * From the runs' stores to what one frame draws: for each run and series (batch, train, val) the
 * points in view, smoothed (incrementally: only what was appended since the last frame) and
 * decimated to at most 4 per pixel column, merged onto one x for uPlot, with the y range (all
 * points, or "ignore outliers") and the best-epoch markers. Pure (no DOM): node tests and the
 * benchmark run it as the webview does.
 */
import { alignSeries, type Aligned, type XY } from './align.js';
import { decimateM4, visibleRange, type Decimated } from './decimate.js';
import { outlierRange, type SeriesValues } from './outliers.js';
import type { PointBuffer } from './PointBuffer.js';
import { type RunSeries, type SeriesKind } from './series.js';
import { EmaSmoother } from './smoothing.js';

export type XAxis = 'epoch' | 'step' | 'time';
export interface ViewSettings {
  axis: XAxis;
  log: boolean;
  /** 0 = off; TensorBoard's weight otherwise. */
  smoothing: number;
  outliers: boolean;
}
export type Range = [min: number, max: number];

/** `line`: smoothing off, drawn as is; with smoothing, `raw` is drawn faint under `smoothed`. */
export interface DrawnSeries {
  runId: string;
  kind: SeriesKind;
  role: 'line' | 'raw' | 'smoothed';
}
export interface BestMarker {
  runId: string;
  epoch: number;
  value: number;
  by: 'val' | 'train';
  x: number;
}
export interface Frame {
  data: Aligned;
  series: DrawnSeries[];
  /** A string naming the series drawn, the axis and scale: when it changes, the chart is rebuilt. */
  shape: string;
  x: Range | undefined;
  y: Range | undefined;
  /** Data points drawn (after decimation; a smoothed line is not counted again) and held. */
  drawn: number;
  total: number;
  best: BestMarker[];
}

const DRAW_ORDER: readonly SeriesKind[] = ['batch', 'train', 'val'];

/** x of a buffer's points on an axis (time: worker ms, shifted to seconds from the run's start). */
function xsOf(buf: PointBuffer, axis: XAxis): ArrayLike<number> {
  return axis === 'epoch' ? buf.xEpoch : axis === 'step' ? buf.step : buf.t;
}

export class FramePlanner {
  private readonly smoothers = new Map<string, { s: EmaSmoother; rewrites: number }>();
  private readonly outputs = new Map<string, Decimated>();

  /** The x range every run's points cover on `axis`. */
  extent(runs: readonly RunSeries[], axis: XAxis): Range | undefined {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const run of runs) {
      for (const kind of DRAW_ORDER) {
        const buf = run.buffer(kind);
        if (buf.length === 0) continue;
        const xs = xsOf(buf, axis);
        const [a, b] = axis === 'time' ? [(xs[0] - (run.t0 ?? 0)) / 1000, (xs[buf.length - 1] - (run.t0 ?? 0)) / 1000] : [xs[0], xs[buf.length - 1]];
        if (a < min) min = a;
        if (b > max) max = b;
      }
    }
    if (!(min <= max)) return undefined;
    if (min === max) return [min - 0.5, max + 0.5];
    return [min, max];
  }

  /** Smoothed values of a buffer, brought up to date (restarted if the buffer was rewritten). */
  smoothed(key: string, buf: PointBuffer, weight: number): Float64Array {
    let c = this.smoothers.get(key);
    if (!c || c.s.weight !== weight || c.rewrites !== buf.rewrites) {
      c = { s: new EmaSmoother(weight), rewrites: buf.rewrites };
      this.smoothers.set(key, c);
    }
    return c.s.update(buf.value, buf.length);
  }

  plan(runs: readonly RunSeries[], v: ViewSettings, view: Range | undefined, columns: number): Frame {
    const series: DrawnSeries[] = [];
    const drawn: XY[] = [];
    const inView: SeriesValues[] = [];
    const extent = this.extent(runs, v.axis);
    const x = view ?? extent;
    const total = runs.reduce((n, r) => n + r.points, 0);
    const live = new Set<string>();
    for (const run of runs) {
      for (const kind of DRAW_ORDER) {
        const buf = run.buffer(kind);
        if (buf.length === 0 || !x) continue;
        const t0 = run.t0 ?? 0;
        const xs = xsOf(buf, v.axis);
        // The view in the buffer's own x units (time: worker ms).
        const [lo, hi] = v.axis === 'time' ? [t0 + x[0] * 1000, t0 + x[1] * 1000] : x;
        const [from, to] = visibleRange(xs, buf.length, lo, hi);
        if (to <= from) continue;
        inView.push({ values: buf.value, from, to });
        const key = `${run.jobId}/${kind}`;
        const roles: [DrawnSeries['role'], ArrayLike<number>][] = v.smoothing > 0 ? [['raw', buf.value], ['smoothed', this.smoothed(key, buf, v.smoothing)]] : [['line', buf.value]];
        for (const [role, ys] of roles) {
          const outKey = `${key}/${role}`;
          live.add(outKey);
          const out = decimateM4(xs, ys, from, to, lo, hi, columns, this.outputs.get(outKey));
          this.outputs.set(outKey, out);
          if (v.axis === 'time') for (let i = 0; i < out.length; i++) out.x[i] = (out.x[i] - t0) / 1000;
          if (v.log) dropNonPositive(out);
          series.push({ runId: run.jobId, kind, role });
          drawn.push(out);
        }
      }
    }
    for (const k of this.outputs.keys()) if (!live.has(k)) this.outputs.delete(k);
    const y = v.outliers ? outlierRange(inView, { log: v.log }) : extentOf(drawn, v.log);
    return {
      data: alignSeries(drawn),
      series,
      shape: `${v.axis}|${v.log ? 'log' : 'lin'}|${series.map((s) => `${s.runId}/${s.kind}/${s.role}`).join(',')}`,
      x,
      y: y && pad(y, v.log),
      // Data points drawn (raw or unsmoothed lines): their smoothed twins are not counted again.
      drawn: drawn.reduce((n, d, i) => n + (series[i].role === 'smoothed' ? 0 : d.length), 0),
      total,
      best: runs.flatMap((r) => bestMarker(r, v.axis) ?? []),
    };
  }
}

/** Where a run's best epoch sits on the axis (its validation point; its train point without validation). */
export function bestMarker(run: RunSeries, axis: XAxis): BestMarker | undefined {
  const best = run.epochs.best();
  if (!best) return undefined;
  const buf = best.by === 'val' ? run.val : run.train;
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf.epoch[i] !== best.epoch || buf.value[i] !== best.value) continue;
    const x = axis === 'epoch' ? buf.xEpoch[i] : axis === 'step' ? buf.step[i] : (buf.t[i] - (run.t0 ?? 0)) / 1000;
    return { runId: run.jobId, epoch: best.epoch, value: best.value, by: best.by, x };
  }
  return undefined;
}

function dropNonPositive(d: Decimated): void {
  let n = 0;
  for (let i = 0; i < d.length; i++) {
    if (d.y[i] > 0) {
      d.x[n] = d.x[i];
      d.y[n++] = d.y[i];
    }
  }
  d.length = n;
}

function extentOf(series: readonly XY[], log: boolean): Range | undefined {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    for (let i = 0; i < s.length; i++) {
      const v = s.y[i];
      if (log && v <= 0) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min <= max ? [min, max] : undefined;
}

/** A little room above and below (in the axis' own space), and some height for a flat line. */
export function pad([min, max]: Range, log: boolean): Range {
  if (log) {
    const a = Math.log10(min);
    const b = Math.log10(max);
    const p = b > a ? (b - a) * 0.05 : 0.1;
    return [10 ** (a - p), 10 ** (b + p)];
  }
  const p = max > min ? (max - min) * 0.05 : Math.abs(max) * 0.1 || 1;
  return [min - p, max + p];
}

export type ZoomAction = 'left' | 'right' | 'in' | 'out' | 'reset';

/** Keyboard pan and zoom of the x view within the data's extent; undefined = follow all data live. */
export function panZoom(view: Range | undefined, extent: Range | undefined, action: ZoomAction): Range | undefined {
  if (!extent || action === 'reset') return undefined;
  const [a, b] = view ?? extent;
  const w = b - a;
  let next: Range;
  if (action === 'in') next = [a + w / 4, b - w / 4];
  else if (action === 'out') next = [a - w / 2, b + w / 2];
  else {
    const d = (action === 'left' ? -1 : 1) * w * 0.2;
    next = [a + d, b + d];
    if (next[0] < extent[0]) next = [extent[0], extent[0] + w];
    if (next[1] > extent[1]) next = [extent[1] - w, extent[1]];
  }
  if (next[0] <= extent[0] && next[1] >= extent[1]) return undefined;
  return [Math.max(extent[0], next[0]), Math.min(extent[1], next[1])];
}
