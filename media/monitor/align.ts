/**
 * uPlot draws series that share one x array (its "aligned" mode, the one its fast paths are
 * built for). Each decimated series has its own x, so they are merged here: the x values of all,
 * ascending, with each series' y where it has a point and null elsewhere (drawn with spanGaps).
 * An x that a series holds k times (equal timestamps, M4 picking two points of one column) stays
 * k times. Input is a few thousand points per series, so this costs well under a millisecond.
 */
export interface XY {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  length: number;
}

export type Aligned = [x: number[], ...ys: (number | null)[][]];

export function alignSeries(series: readonly XY[]): Aligned {
  const k = series.length;
  const pos = new Array<number>(k).fill(0);
  const xs: number[] = [];
  const ys: (number | null)[][] = series.map(() => []);
  for (;;) {
    let min = Number.POSITIVE_INFINITY;
    for (let s = 0; s < k; s++) if (pos[s] < series[s].length && series[s].x[pos[s]] < min) min = series[s].x[pos[s]];
    if (min === Number.POSITIVE_INFINITY) break;
    xs.push(min);
    for (let s = 0; s < k; s++) {
      const p = pos[s];
      if (p < series[s].length && series[s].x[p] === min) {
        ys[s].push(series[s].y[p]);
        pos[s] = p + 1;
      } else {
        ys[s].push(null);
      }
    }
  }
  return [xs, ...ys];
}
