/**
 * "Ignore outliers": the y range that leaves out spikes, by SLEAP's rule (LossViewer: values
 * beyond 1.5 x the interquartile range from the quartiles), applied to each series on its own,
 * and the range is the union of every series' inliers, so no series is ever pushed off the chart
 * (TensorBoard trims ~10 % of all points together and can hide a whole series).
 *
 * On a log axis the rule is applied to log10(values), the distances the eye sees: a loss that
 * falls by three decades is not "outliers" early on. Values <= 0 cannot be drawn there and are
 * left out.
 *
 * Quartiles come from every value when a series has at most `sampleCap` of them in view, else
 * from every k-th value (deterministic: the same data always gives the same range, never random
 * sampling); the inlier bounds are then exact, from every value in view.
 */
export interface SeriesValues {
  values: ArrayLike<number>;
  /** Index range in view, [from, to). Default: all. */
  from?: number;
  to?: number;
}

export interface InlierRange {
  /** The smallest and largest inlier (data units). */
  min: number;
  max: number;
  /** The fences (in the space the rule ran in: log10 on a log axis). */
  low: number;
  high: number;
}

/** 16,384 values give quartiles within ~1 % of the rank range, and sort in about a millisecond. */
export const DEFAULT_SAMPLE_CAP = 16_384;

/** numpy's default (linear) quantile of ascending `sorted`. */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** One series' inliers, or undefined when it has no drawable value in view. */
export function inlierRange(s: SeriesValues, opts: { log?: boolean; sampleCap?: number } = {}): InlierRange | undefined {
  const log = opts.log ?? false;
  const from = Math.max(0, s.from ?? 0);
  const to = Math.min(s.values.length, s.to ?? s.values.length);
  const cap = Math.max(16, opts.sampleCap ?? DEFAULT_SAMPLE_CAP);
  const stride = Math.max(1, Math.ceil((to - from) / cap));
  const sample = new Float64Array(Math.ceil((to - from) / stride));
  let n = 0;
  for (let i = from; i < to; i += stride) {
    const v = s.values[i];
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    sample[n++] = log ? Math.log10(v) : v;
  }
  if (n === 0) return undefined;
  const sorted = sample.subarray(0, n).sort();
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  const iqr = q3 - q1;
  const low = q1 - 1.5 * iqr;
  const high = q3 + 1.5 * iqr;
  // The fences back in data units (log10 is monotonic), so the exact pass needs no log per value.
  const lowV = log ? 10 ** low : low;
  const highV = log ? 10 ** high : high;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = from; i < to; i++) {
    const v = s.values[i];
    // NaN fails both comparisons; on a log axis lowV > 0 already leaves out v <= 0.
    if (!(v >= lowV && v <= highV) || v === Number.POSITIVE_INFINITY || (log && v <= 0)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) {
    // Sampled quartiles can leave every value of a tiny view outside: fall back to the median.
    const m = log ? 10 ** quantile(sorted, 0.5) : quantile(sorted, 0.5);
    min = max = m;
  }
  return { min, max, low, high };
}

/** The union of every series' inlier range (data units), or undefined when nothing is drawable. */
export function outlierRange(series: readonly SeriesValues[], opts: { log?: boolean; sampleCap?: number } = {}): [min: number, max: number] | undefined {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    const r = inlierRange(s, opts);
    if (!r) continue;
    if (r.min < min) min = r.min;
    if (r.max > max) max = r.max;
  }
  return min <= max ? [min, max] : undefined;
}
