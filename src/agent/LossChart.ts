/** One epoch's losses (either may be missing). */
export interface LossPoint {
  epoch: number;
  train?: number;
  val?: number;
}

export interface ChartOptions {
  /** Plot columns (epochs are averaged into this many buckets when there are more). Default 60. */
  width?: number;
  /** Plot rows. Default 10. */
  height?: number;
}

const TRAIN = '*';
const VAL = 'o';
const BOTH = '@';

const fmt = (v: number): string => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toPrecision(4));

/**
 * The live loss curve as terminal lines: train loss `*`, validation loss `o` (`@` where they
 * meet), y axis labelled with the range, x axis with the first and last epoch. A log scale is
 * used when the losses span more than two decades (they usually fall that fast early on).
 */
/** The most decades the terminal chart's log axis spans (ten rows cannot show more). */
const MAX_DECADES = 4;

export function renderLossChart(points: readonly LossPoint[], opts: ChartOptions = {}): string[] {
  const width = Math.max(10, opts.width ?? 60);
  const height = Math.max(3, opts.height ?? 10);
  const pts = points.filter((p) => isFiniteNum(p.train) || isFiniteNum(p.val));
  if (pts.length === 0) return ['(no losses yet)'];
  const values = pts.flatMap((p) => [p.train, p.val]).filter(isFiniteNum);
  let lo = Math.min(...values);
  const hi = Math.max(...values);
  const log = lo > 0 && hi / lo > 100;
  if (log) {
    // The useful decades only: a loss that reaches ~0 (6.9e-33 on a one-frame dataset) stretched
    // the axis over 30 decades and drew every other curve flat. At most MAX_DECADES below the
    // top, and no lower than a decade under the validation loss when there is one; what falls
    // below is drawn on the bottom row.
    const vals = pts.map((p) => p.val).filter(isFiniteNum);
    const valFloor = vals.length ? Math.min(...vals) / 10 : 0;
    lo = Math.max(lo, hi / 10 ** MAX_DECADES, valFloor);
  }
  const tf = (v: number): number => (log ? Math.log10(v) : v);
  let tlo = tf(lo);
  let thi = tf(hi);
  if (thi - tlo < 1e-12) {
    thi += 0.5;
    tlo -= 0.5;
  }
  const buckets = bucketize(pts, width);
  const grid = Array.from({ length: height }, () => Array<string>(buckets.length).fill(' '));
  const row = (v: number): number => height - 1 - Math.min(height - 1, Math.max(0, Math.round(((tf(v) - tlo) / (thi - tlo)) * (height - 1))));
  buckets.forEach((b, x) => {
    if (isFiniteNum(b.train)) grid[row(b.train)][x] = TRAIN;
    if (isFiniteNum(b.val)) {
      const r = row(b.val);
      grid[r][x] = grid[r][x] === TRAIN ? BOTH : VAL;
    }
  });
  const top = fmt(log ? 10 ** thi : thi);
  const bottom = fmt(log ? 10 ** tlo : tlo);
  const pad = Math.max(top.length, bottom.length);
  const lines = grid.map((cells, i) => `${(i === 0 ? top : i === height - 1 ? bottom : '').padStart(pad)} |${cells.join('')}`);
  const first = String(pts[0].epoch);
  const last = String(pts[pts.length - 1].epoch);
  lines.push(`${' '.repeat(pad)} +${'-'.repeat(buckets.length)}`);
  lines.push(`${' '.repeat(pad)}  ${first}${last.padStart(Math.max(1, buckets.length - first.length))}  epoch${log ? ' (log scale)' : ''}`);
  const lastPt = pts[pts.length - 1];
  lines.push(`${' '.repeat(pad)}  ${TRAIN} train${isFiniteNum(lastPt.train) ? ` ${fmt(lastPt.train)}` : ''}   ${VAL} val${isFiniteNum(lastPt.val) ? ` ${fmt(lastPt.val)}` : ''}`);
  return lines;
}

function isFiniteNum(v: number | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Averages consecutive points into at most `width` columns. */
function bucketize(pts: readonly LossPoint[], width: number): Array<{ train?: number; val?: number }> {
  const n = Math.min(width, pts.length);
  const out: Array<{ train?: number; val?: number }> = [];
  for (let i = 0; i < n; i++) {
    const slice = pts.slice(Math.floor((i * pts.length) / n), Math.floor(((i + 1) * pts.length) / n));
    out.push({ train: mean(slice.map((p) => p.train)), val: mean(slice.map((p) => p.val)) });
  }
  return out;
}

function mean(xs: Array<number | undefined>): number | undefined {
  const v = xs.filter(isFiniteNum);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
}
