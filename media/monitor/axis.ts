/** Axis helpers for uPlot (pure: tested in node). */

/**
 * A log axis' minimum rounded down to one significant digit (0.0228 -> 0.02; never above v).
 * uPlot's log ticks step from the minimum by powers of ten and assume it sits on that grid (its
 * own range function snaps to one): from 0.0997 they reach 0.11, whose step has no decimals
 * entry, round to 0 and never end ("Invalid array length", seen in the 1,000,000-point bench).
 */
export function logFloor(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return v;
  const e = Math.floor(Math.log10(v));
  let d = Math.floor(v / 10 ** e);
  if (!Number.isFinite(d)) return v; // subnormal: 10^e underflows
  if (d < 1) d = 1;
  let out = Number(`${d}e${e}`);
  if (out > v) out = d > 1 ? Number(`${d - 1}e${e}`) : Number(`9e${e - 1}`);
  return out;
}

/** The most decades a log axis spans: losses fall by orders of magnitude, not by thirty. */
export const MAX_LOG_DECADES = 8;

/**
 * The y range of a log axis: at most MAX_LOG_DECADES below the top (a loss that reaches ~0,
 * 6.9e-33 with a one-frame dataset, otherwise stretched the axis over 30 decades, flattened
 * every curve, and made uPlot's tick loop run for minutes: the whole window froze), its
 * minimum on uPlot's tick grid (logFloor). Points below are clipped at the bottom edge.
 */
export function logRange(min: number, max: number): [number, number] {
  if (!(max > 0) || !Number.isFinite(max)) return [min, max];
  const floor = max / 10 ** MAX_LOG_DECADES;
  return [logFloor(min > floor && Number.isFinite(min) ? min : floor), max];
}

/** 1, 2, 5, 10, 20, 50, ... up to 5 x 10^(n-1): tick increments for counts. */
export function decades(steps: number[], n: number): number[] {
  const out: number[] = [];
  for (let e = 0; e < n; e++) for (const s of steps) out.push(s * 10 ** e);
  return out;
}
