/** Gradient-descent updates of a flat parameter vector. */
export interface Optimizer {
  readonly name: string;
  lr: number;
  step(params: Float64Array, grad: Float64Array): void;
}

export class Adam implements Optimizer {
  readonly name = 'Adam';
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(
    size: number,
    public lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  step(params: Float64Array, grad: Float64Array): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    for (let i = 0; i < params.length; i++) {
      this.m[i] = this.beta1 * this.m[i] + (1 - this.beta1) * grad[i];
      this.v[i] = this.beta2 * this.v[i] + (1 - this.beta2) * grad[i] * grad[i];
      params[i] -= (this.lr * (this.m[i] / c1)) / (Math.sqrt(this.v[i] / c2) + this.eps);
    }
  }
}

export class Sgd implements Optimizer {
  readonly name = 'SGD';
  constructor(public lr: number) {}

  step(params: Float64Array, grad: Float64Array): void {
    for (let i = 0; i < params.length; i++) params[i] -= this.lr * grad[i];
  }
}
