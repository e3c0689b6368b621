/**
 * A one-hidden-layer perceptron (inputs -> tanh hidden -> linear outputs) with a masked mean
 * squared error and its gradient by backpropagation. Parameters live in one
 * Float64Array so optimisers and checkpoints treat them as a flat vector. Small and exact: this
 * is the builtin trainer's model, sized for CPU training in milliseconds per epoch.
 */

export interface Samples {
  /** n x inputs, row-major. */
  x: Float64Array;
  /** n x outputs, row-major; entries with mask 0 are ignored. */
  y: Float64Array;
  /** n x outputs, 1 where the target is known. */
  mask: Float64Array;
}

export class Mlp {
  readonly params: Float64Array;
  private readonly h: Float64Array;
  private readonly out: Float64Array;
  private readonly dh: Float64Array;

  constructor(
    readonly inputs: number,
    readonly hidden: number,
    readonly outputs: number,
    random: () => number,
    outputBias = 0,
  ) {
    this.params = new Float64Array(hidden * inputs + hidden + outputs * hidden + outputs);
    // Glorot-uniform weights, zero hidden bias, output bias at `outputBias`.
    const a1 = Math.sqrt(6 / (inputs + hidden));
    const a2 = Math.sqrt(6 / (hidden + outputs));
    const { w1, w2, b2 } = this.views(this.params);
    for (let i = 0; i < w1.length; i++) w1[i] = (2 * random() - 1) * a1;
    for (let i = 0; i < w2.length; i++) w2[i] = (2 * random() - 1) * a2;
    b2.fill(outputBias);
    this.h = new Float64Array(hidden);
    this.out = new Float64Array(outputs);
    this.dh = new Float64Array(hidden);
  }

  /** Named views into a flat parameter (or gradient) vector. */
  views(v: Float64Array): { w1: Float64Array; b1: Float64Array; w2: Float64Array; b2: Float64Array } {
    const { inputs: I, hidden: H, outputs: O } = this;
    let o = 0;
    const take = (n: number) => v.subarray(o, (o += n));
    return { w1: take(H * I), b1: take(H), w2: take(O * H), b2: take(O) };
  }

  /** Predicts sample `s` of `x` into `out` (length outputs). */
  predict(x: Float64Array, s: number, out: Float64Array = this.out): Float64Array {
    const { inputs: I, hidden: H, outputs: O } = this;
    const { w1, b1, w2, b2 } = this.views(this.params);
    for (let j = 0; j < H; j++) {
      let z = b1[j];
      for (let i = 0; i < I; i++) z += w1[j * I + i] * x[s * I + i];
      this.h[j] = Math.tanh(z);
    }
    for (let k = 0; k < O; k++) {
      let z = b2[k];
      for (let j = 0; j < H; j++) z += w2[k * H + j] * this.h[j];
      out[k] = z;
    }
    return out;
  }

  /** Masked MSE over `indices`; with `grad`, also accumulates its gradient (grad is overwritten). */
  loss(data: Samples, indices: ArrayLike<number>, grad?: Float64Array): number {
    const { inputs: I, hidden: H, outputs: O } = this;
    let known = 0;
    for (let n = 0; n < indices.length; n++) for (let k = 0; k < O; k++) known += data.mask[indices[n] * O + k];
    if (grad) grad.fill(0);
    if (known === 0) return 0;
    const g = grad ? this.views(grad) : undefined;
    const { w2 } = this.views(this.params);
    let sum = 0;
    for (let n = 0; n < indices.length; n++) {
      const s = indices[n];
      const pred = this.predict(data.x, s);
      if (!g) {
        for (let k = 0; k < O; k++) {
          const m = data.mask[s * O + k];
          if (m) sum += (pred[k] - data.y[s * O + k]) ** 2;
        }
        continue;
      }
      this.dh.fill(0);
      for (let k = 0; k < O; k++) {
        if (!data.mask[s * O + k]) continue;
        const err = pred[k] - data.y[s * O + k];
        sum += err * err;
        const d = (2 * err) / known;
        g.b2[k] += d;
        for (let j = 0; j < H; j++) {
          g.w2[k * H + j] += d * this.h[j];
          this.dh[j] += d * w2[k * H + j];
        }
      }
      for (let j = 0; j < H; j++) {
        const dz = this.dh[j] * (1 - this.h[j] * this.h[j]);
        g.b1[j] += dz;
        for (let i = 0; i < I; i++) g.w1[j * I + i] += dz * data.x[s * I + i];
      }
    }
    return sum / known;
  }
}
