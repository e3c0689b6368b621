/**
 * TensorBoard's smoothing: an exponential moving average debiased like Adam's moments, so the
 * first points are not dragged towards 0 (tensorboard/webapp/widgets/line_chart_v2/lib/
 * data_transformer.ts `classicSmoothing`). Non-finite values pass through unsmoothed and do not
 * enter the average; a constant series is returned as is. Weight 0 turns it off; TensorBoard's
 * default is 0.6.
 *
 * Incremental: `EmaSmoother` keeps the running state so a live series of 1,000,000 points
 * smooths only what was appended since the last frame.
 */
export const DEFAULT_SMOOTHING = 0.6;

/** The whole series at once (for tests and one-off use). */
export function smooth(values: ArrayLike<number>, weight = DEFAULT_SMOOTHING): Float64Array {
  const s = new EmaSmoother(weight);
  s.update(values, values.length);
  return s.output.slice(0, values.length);
}

export class EmaSmoother {
  output = new Float64Array(0);
  private n = 0;
  private last = 0;
  private accumulated = 0;
  /** weight^accumulated, kept by multiplication (Math.pow per point cost ~30 ms per 1,000,000). */
  private wPow = 1;
  private first = Number.NaN;
  private constant = true;

  constructor(readonly weight: number) {
    if (!(weight >= 0 && weight < 1)) throw new RangeError(`smoothing weight must be in [0, 1), not ${weight}`);
  }

  /** Points smoothed so far. */
  get length(): number {
    return this.n;
  }

  /** Forgets everything (the series was rewritten, not appended to). */
  reset(): void {
    this.n = 0;
    this.last = 0;
    this.accumulated = 0;
    this.wPow = 1;
    this.first = Number.NaN;
    this.constant = true;
  }

  /** Smooths values[this.length .. length) into `output` (grown by doubling as needed). */
  update(values: ArrayLike<number>, length: number): Float64Array {
    if (length < this.n) this.reset();
    if (this.output.length < length) {
      const grown = new Float64Array(Math.max(length, this.output.length * 2, 1024));
      grown.set(this.output.subarray(0, this.n));
      this.output = grown;
    }
    const w = this.weight;
    const out = this.output;
    for (let i = this.n; i < length; i++) {
      const v = values[i];
      if (i === 0) this.first = v;
      if (w === 0 || !Number.isFinite(v)) {
        out[i] = v;
        continue;
      }
      if (this.constant && v !== this.first) {
        // TensorBoard returns a constant series unsmoothed; the EMA of a constant prefix is that
        // constant, so the values already written stand as they are.
        this.constant = false;
      }
      this.last = this.last * w + (1 - w) * v;
      this.accumulated++;
      this.wPow *= w;
      out[i] = this.constant ? v : this.last / (1 - this.wPow);
    }
    this.n = length;
    return out;
  }
}
