/**
 * The loss chart: uPlot on a canvas. Why uPlot: ~50 KB, canvas (no DOM node per point), fast
 * paths for the aligned series it draws, drag-to-zoom and a live legend built in. It is fed
 * decimated frames (frame.ts), so a 1,000,000-point run costs a few thousand points per draw.
 *
 * The chart is rebuilt when what it draws changes shape (series added, axis, log scale, theme);
 * otherwise each frame is one synchronous `batch` of setData + setScale, so the draw is measured
 * where it happens. The best-epoch marker is drawn on the canvas (it is in the PNG export).
 */
import uPlot from 'uplot';
import { decades, logRange } from './axis.js';
import { fmtCount, fmtElapsed, fmtLoss, fmtTick } from './format.js';
import type { Frame, Range, XAxis, ZoomAction } from './frame.js';
import type { Theme } from './theme.js';

export interface SeriesStyle {
  label: string;
  stroke: string;
  width: number;
  dash?: number[];
  alpha: number;
  /** Dots on the points (epoch losses: one per epoch, as SLEAP draws them). */
  points: boolean;
}
export interface Marker {
  x: number;
  label: string;
  color: string;
  /** The main run's marker: a dashed line with its label; overlays get a tick only. */
  main: boolean;
}
export interface ChartCallbacks {
  /** The user zoomed with the mouse (drag) or reset it (double-click: undefined). */
  onZoom(range: Range | undefined): void;
  onKey(action: ZoomAction): void;
  onResize(): void;
}

const KEYS: Record<string, ZoomAction> = { ArrowLeft: 'left', ArrowRight: 'right', '+': 'in', '=': 'in', '-': 'out', _: 'out', '0': 'reset', Home: 'reset' };
const AXIS_LABEL: Record<XAxis, string> = { epoch: 'epoch', step: 'step (batches)', time: 'time since start' };

export class LossChart {
  /** The y range of the last draw (after the log axis' limits), for tests. */
  yRange: [number, number] | undefined;
  readonly root: HTMLElement;
  private readonly plot: HTMLElement;
  private readonly legend: HTMLElement;
  private u?: uPlot;
  private shape = '';
  private applying = false;
  private markers: Marker[] = [];
  private theme?: Theme;
  private ariaLabel = 'Loss chart';

  constructor(parent: HTMLElement, private readonly cb: ChartCallbacks) {
    this.root = document.createElement('div');
    this.root.className = 'chart';
    this.plot = document.createElement('div');
    this.plot.className = 'chart-plot';
    // Keyboard: the plot is focusable; arrows pan, + and - zoom, 0 resets (the hint says so).
    this.plot.tabIndex = 0;
    this.plot.setAttribute('role', 'group');
    this.plot.setAttribute('aria-label', 'Loss chart. Left and right arrows pan, plus and minus zoom, 0 resets the zoom; drag with the mouse to zoom, double-click to reset.');
    this.plot.addEventListener('keydown', (e) => {
      const action = KEYS[e.key];
      if (!action) return;
      e.preventDefault();
      cb.onKey(action);
    });
    this.legend = document.createElement('div');
    this.legend.className = 'chart-legend';
    this.root.append(this.plot, this.legend);
    parent.append(this.root);
    // Resizing inside the observer's callback would change layout during it (the browser reports
    // a loop): the next frame resizes and redraws instead.
    new ResizeObserver(() => cb.onResize()).observe(this.plot);
  }

  /** The plot's size in CSS pixels (what uPlot fills). */
  size(): { width: number; height: number } {
    return { width: Math.max(200, Math.floor(this.plot.clientWidth)), height: Math.max(160, Math.floor(this.plot.clientHeight)) };
  }

  /** Pixel columns of the plotting area: the decimation's bucket count. */
  columns(): number {
    const w = this.u ? this.u.bbox.width / devicePixelRatio : this.size().width - 60;
    return Math.max(50, Math.round(w));
  }

  get canvas(): HTMLCanvasElement | undefined {
    return this.u?.ctx.canvas;
  }

  setAriaLabel(text: string): void {
    this.ariaLabel = text;
    this.canvas?.setAttribute('aria-label', text);
  }

  /** Draws a frame, synchronously (uPlot's batch commits at once, so callers can time it). */
  render(frame: Frame, styles: readonly SeriesStyle[], axis: XAxis, log: boolean, theme: Theme, markers: Marker[]): void {
    this.markers = markers;
    const shape = `${frame.shape}|${theme.kind}|${theme.foreground}|${theme.palette.join()}|${styles.map((s) => `${s.label}:${s.stroke}`).join()}`;
    if (!this.u || shape !== this.shape || theme !== this.theme) {
      this.u?.destroy();
      this.legend.replaceChildren();
      this.theme = theme;
      this.shape = shape;
      this.u = new uPlot(this.options(styles, axis, log, theme), frame.data as uPlot.AlignedData, this.plot);
      this.u.ctx.canvas.setAttribute('role', 'img');
      this.u.ctx.canvas.setAttribute('aria-label', this.ariaLabel);
    }
    const u = this.u;
    const { width, height } = this.size();
    if (width !== u.width || height !== u.height) u.setSize({ width, height });
    this.applying = true;
    try {
      u.batch(() => {
        u.setData(frame.data as uPlot.AlignedData, false);
        // Before the first point: empty axes over a placeholder range (uPlot cannot draw null scales).
        const x = frame.x ?? [0, 1];
        const y = frame.y ?? (log ? [0.01, 1] : [0, 1]);
        u.setScale('x', { min: x[0], max: x[1] });
        const [ymin, ymax] = log ? logRange(y[0], y[1]) : y;
        this.yRange = [ymin, ymax];
        u.setScale('y', { min: ymin, max: ymax });
      });
    } finally {
      this.applying = false;
    }
  }

  private options(styles: readonly SeriesStyle[], axis: XAxis, log: boolean, theme: Theme): uPlot.Options {
    const { width, height } = this.size();
    const font = theme.font;
    const axisBase = { stroke: theme.foreground, font, labelFont: font, grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid, width: 1 } };
    const xValues = (_u: uPlot, splits: number[]) => splits.map((v) => (v == null ? '' : axis === 'time' ? fmtElapsed(v) : axis === 'step' ? fmtCount(v) : String(+v.toFixed(2))));
    // Whole epochs and steps when there is room; fractions of an epoch only when zoomed in.
    const incrs = axis === 'time' ? [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400] : [0.1, 0.2, 0.25, 0.5, ...decades([1, 2, 5], axis === 'epoch' ? 5 : 9)];
    return {
      width,
      height,
      // The x scale is ours (the view); the y range comes with each frame (outliers rule or all points).
      scales: {
        x: { time: false, auto: false, range: (_u, min, max) => [min, max] },
        y: log ? { distr: 3, log: 10, auto: false, range: (_u, min, max) => [min, max] } : { auto: false, range: (_u, min, max) => [min, max] },
      },
      axes: [
        { ...axisBase, label: AXIS_LABEL[axis], values: xValues, incrs: axis === 'step' ? incrs.filter((i) => i >= 1) : incrs },
        { ...axisBase, label: log ? 'loss (log scale)' : 'loss', values: (_u, splits) => splits.map((v) => fmtTick(v)), size: (u, values) => axisSize(u, values, font) },
      ],
      series: [
        { label: AXIS_LABEL[axis], value: (_u, v) => (v == null ? '–' : axis === 'time' ? fmtElapsed(v) : axis === 'step' ? fmtCount(v) : v.toFixed(2)) },
        ...styles.map((s) => ({ label: s.label, stroke: s.stroke, width: s.width * theme.widthScale, dash: s.dash, alpha: s.alpha, spanGaps: true, points: { show: s.points, size: 5, stroke: s.stroke, fill: s.stroke }, value: (_u: uPlot, v: number | null) => (v == null ? '–' : fmtLoss(v)) })),
      ],
      cursor: {
        drag: { x: true, y: false, setScale: true },
        // Hovering finds each series' nearest point, not the merged x's nulls.
        hover: { skip: [null, undefined] },
        bind: {
          dblclick: () => () => {
            this.cb.onZoom(undefined);
            return null;
          },
        },
      },
      legend: { show: true, live: true, mount: (_u, el) => this.legend.append(el) },
      hooks: {
        setScale: [
          (u, key) => {
            if (key !== 'x' || this.applying) return;
            const { min, max } = u.scales.x;
            if (min != null && max != null && max > min) this.cb.onZoom([min, max]);
          },
        ],
        draw: [(u) => this.drawMarkers(u)],
      },
      padding: [12, 16, 0, 0],
    };
  }

  /** The best-epoch markers: a dashed vertical line and label for the main run, a tick for others. */
  private drawMarkers(u: uPlot): void {
    const theme = this.theme;
    if (!theme || this.markers.length === 0) return;
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const dpr = devicePixelRatio;
    ctx.save();
    ctx.font = theme.font.replace(/^(\d+(?:\.\d+)?)px/, (_m, px: string) => `${Number(px) * dpr}px`);
    for (const m of this.markers) {
      const x = u.valToPos(m.x, 'x', true);
      if (!(x >= left && x <= left + width)) continue;
      ctx.strokeStyle = m.color;
      ctx.lineWidth = (m.main ? 1.5 : 1) * dpr * theme.widthScale;
      ctx.setLineDash(m.main ? [4 * dpr, 4 * dpr] : []);
      ctx.beginPath();
      ctx.moveTo(x, m.main ? top : top + height - 10 * dpr);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      if (m.main) {
        ctx.fillStyle = m.color;
        const w = ctx.measureText(m.label).width;
        const tx = x + 4 * dpr + w > left + width ? x - 4 * dpr - w : x + 4 * dpr;
        ctx.textBaseline = 'top';
        ctx.fillText(m.label, tx, top + 4 * dpr);
      }
    }
    ctx.restore();
  }

  /** The chart as a PNG data URL: background, a title line, the legend's colours, the plot. */
  toPng(title: string, legend: readonly { label: string; color: string }[]): string {
    const src = this.canvas;
    const theme = this.theme;
    if (!src || !theme) throw new Error('nothing drawn yet');
    const dpr = devicePixelRatio;
    const head = Math.round(44 * dpr);
    const out = document.createElement('canvas');
    out.width = src.width;
    out.height = src.height + head;
    const ctx = out.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas');
    ctx.fillStyle = theme.background;
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.font = theme.font.replace(/^(\d+(?:\.\d+)?)px/, (_m, px: string) => `${Number(px) * dpr}px`);
    ctx.textBaseline = 'top';
    ctx.fillStyle = theme.foreground;
    ctx.fillText(title, 8 * dpr, 4 * dpr);
    let x = 8 * dpr;
    for (const l of legend) {
      ctx.fillStyle = l.color;
      ctx.fillRect(x, 26 * dpr, 12 * dpr, 3 * dpr);
      x += 16 * dpr;
      ctx.fillStyle = theme.foreground;
      ctx.fillText(l.label, x, 21 * dpr);
      x += ctx.measureText(l.label).width + 14 * dpr;
    }
    ctx.drawImage(src, 0, head);
    return out.toDataURL('image/png');
  }
}

/** The y axis' width from its widest label, so long exponents are not cut. */
function axisSize(u: uPlot, values: string[] | null, font: string): number {
  if (!values || values.length === 0) return 50;
  const ctx = u.ctx;
  ctx.save();
  ctx.font = font;
  const w = Math.max(...values.map((v) => ctx.measureText(v).width));
  ctx.restore();
  return Math.ceil(w) + 28;
}
