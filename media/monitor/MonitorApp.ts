/**
 * The monitor's coordinator: takes the extension's messages, keeps the runs' stores, and draws
 * at most once per animation frame however fast events arrive (a burst of 100 history pages is
 * one draw). After each draw it updates the side panel, the buttons, the root's data attributes
 * (for tests) and posts `rendered`.
 */
import type { SlpSummaryView, JobView } from '../../src/core/schemas/agent.js';
import type { ExtensionMessage, RunSummary } from '../../src/core/monitor/protocol.js';
import type { JobStatusValue } from '../../src/core/schemas/jobs.js';
import { LossChart, type Marker, type SeriesStyle } from './chart.js';
import { CommandBar } from './commandBar.js';
import { Controls } from './controls.js';
import { maxEpochsOf, patienceOf } from './describe.js';
import { fmtLoss } from './format.js';
import { FramePlanner, panZoom, type DrawnSeries, type Range, type ViewSettings } from './frame.js';
import { runColorIndexes } from './palette.js';
import { RunPicker } from './runPicker.js';
import { RunSeries } from './series.js';
import { SidePanel } from './sidePanel.js';
import { onThemeChange, readTheme, type Theme } from './theme.js';
import { loadState, post, saveState, type PersistedState } from './vscodeApi.js';

interface Run {
  series: RunSeries;
  job?: JobView;
  config?: Record<string, unknown>;
  summary?: SlpSummaryView;
  overlay: boolean;
}

const KIND_LABEL = { train: 'train loss', val: 'val loss', batch: 'batch loss' } as const;

export class MonitorApp {
  private state: PersistedState = loadState();
  private mainId?: string;
  private readonly runs = new Map<string, Run>();
  private runList: RunSummary[] = [];
  private view?: Range;
  private status?: JobStatusValue;
  /** seq of the last status event applied from the stream. */
  private statusSeq = 0;
  /** The freshest view of the main job applied: its status and the seq it holds up to. */
  private jobView?: { status: JobStatusValue; seq: number };
  private theme: Theme = readTheme();
  private readonly planner = new FramePlanner();
  private frameRequested = false;
  private readonly chart: LossChart;
  private readonly controls: Controls;
  private readonly commands: CommandBar;
  private readonly side = new SidePanel();
  private readonly picker: RunPicker;
  private readonly title: HTMLElement;
  /** The legend of the last draw (smoothed or plain lines), for the PNG export. */
  private legend: { label: string; color: string }[] = [];

  constructor(private readonly root: HTMLElement) {
    this.title = document.createElement('h1');
    this.title.textContent = 'Training monitor';
    this.controls = new Controls({
      onChange: (patch) => {
        if (patch.axis && patch.axis !== this.state.axis) this.view = undefined; // other units
        this.state = { ...this.state, ...patch };
        saveState(this.state);
        this.schedule();
      },
      onResetZoom: () => this.setView(undefined),
      onExport: (format) => this.export(format),
    });
    this.commands = new CommandBar((request_id, command) => {
      if (this.mainId) post({ type: 'command', request_id, job_id: this.mainId, command });
    });
    this.picker = new RunPicker((ids) => this.compare(ids));
    const header = document.createElement('header');
    header.className = 'head';
    header.append(this.title, this.commands.root, this.commands.statusLine);
    const main = document.createElement('div');
    main.className = 'main';
    root.replaceChildren(header, this.controls.root, main);
    this.chart = new LossChart(main, { onZoom: (r) => this.setView(r), onKey: (a) => this.setView(panZoom(this.view, this.planner.extent(this.liveRuns(), this.state.axis), a)), onResize: () => this.schedule() });
    this.side.root.append(this.picker.root);
    main.append(this.side.root);
    this.controls.set(this.state);
    this.controls.setZoomed(false);
    onThemeChange(() => {
      this.theme = readTheme();
      this.schedule();
    });
    window.addEventListener('message', (e: MessageEvent) => this.handle(e.data as ExtensionMessage));
    post({ type: 'ready', ...(this.state.job_id ? { job_id: this.state.job_id } : {}) });
  }

  handle(m: ExtensionMessage): void {
    if (!m || typeof m !== 'object' || typeof m.type !== 'string') return;
    switch (m.type) {
      case 'init': {
        const overlay = m.overlay === true;
        if (!overlay && m.job_id !== this.mainId) this.setMain(m.job_id);
        const run = this.run(m.job_id, overlay);
        run.job = viewOf(m.job);
        run.config = m.config;
        run.summary = m.summary;
        run.series.epochs.maxEpochs = maxEpochsOf(m.config);
        if (!overlay) {
          // The dataset is what the researcher recognises; the job id stays in the tooltip.
          this.title.textContent = `Training monitor: ${m.job.dataset.split(/[\\/]/).pop() || m.job.dataset}`;
          this.title.title = `job ${m.job_id}`;
          this.applyJob(m.job);
          this.side.setConfig(m.config);
          this.side.setSummary(m.summary);
        }
        break;
      }
      case 'events': {
        const run = this.runs.get(m.job_id) ?? (m.job_id === this.mainId ? this.run(m.job_id, false) : undefined);
        if (!run) return; // a run no longer compared
        run.series.add(m.events);
        if (m.job_id === this.mainId) this.statusFromStream(run);
        break;
      }
      case 'job': {
        const job = viewOf(m.job);
        if (this.runs.has(job.id)) this.runs.get(job.id)!.job = job;
        if (job.id === this.mainId) this.applyJob(job);
        break;
      }
      case 'ack':
        if (m.job && m.job.id === this.mainId) this.applyJob(m.job);
        this.commands.ack(m.request_id, m.ok, m.message);
        break;
      case 'runs':
        this.runList = m.runs;
        this.picker.set(m.runs, this.mainId, this.state.compared);
        break;
      case 'error':
        this.commands.say(m.message, true);
        break;
      default:
        return;
    }
    this.schedule();
  }

  private setMain(id: string): void {
    const restored = this.state.job_id === id ? this.state.compared : [];
    this.mainId = id;
    this.runs.clear();
    this.view = undefined;
    this.status = undefined;
    this.statusSeq = 0;
    this.jobView = undefined;
    this.state = { ...this.state, job_id: id, compared: restored };
    saveState(this.state);
    this.root.dataset.jobId = id;
    this.title.textContent = `Training monitor: ${id}`;
    this.picker.set(this.runList, id, restored);
    if (restored.length > 0) post({ type: 'compare', job_ids: restored });
  }

  private run(id: string, overlay: boolean): Run {
    let r = this.runs.get(id);
    if (!r) this.runs.set(id, (r = { series: new RunSeries(id), overlay }));
    return r;
  }

  private compare(ids: string[]): void {
    const wanted = new Set(ids.filter((id) => id !== this.mainId));
    for (const [id, r] of this.runs) if (r.overlay && !wanted.has(id)) this.runs.delete(id);
    this.state = { ...this.state, compared: [...wanted] };
    saveState(this.state);
    post({ type: 'compare', job_ids: [...wanted] });
    this.schedule();
  }

  /**
   * The status shown is the freshest one known, by seq: the agent's view of the job holds up to
   * its last_seq, a status event in the stream after that is newer. A view older than one
   * already applied is ignored: a command's answer can arrive after the job's next state (the
   * worker acknowledges a pause before it pauses), and must not take 'paused' back to 'training'.
   */
  private applyJob(job: JobView): void {
    // A view without last_seq (a job the agent does not follow now) is taken as it is.
    const seq = job.last_seq ?? Number.POSITIVE_INFINITY;
    const older = job.last_seq !== undefined && this.jobView !== undefined && Number.isFinite(this.jobView.seq) && job.last_seq < this.jobView.seq;
    if (older) return;
    this.jobView = { status: job.status, seq };
    // Why a job failed is what the researcher needs first: the worker's message, in the status line.
    if (job.status === 'failed' && job.error) this.commands.say(`Training failed (${job.error.code}): ${job.error.message}`, true);
    this.showStatus();
  }

  /** A status event newer than any applied (replays of old ones change nothing). */
  private statusFromStream(run: Run): void {
    const latest = run.series.epochs.latestStatus;
    if (!latest || latest.seq <= this.statusSeq) return;
    this.statusSeq = latest.seq;
    this.showStatus();
  }

  private showStatus(): void {
    const latest = this.mainId ? this.runs.get(this.mainId)?.series.epochs.latestStatus : undefined;
    const v = this.jobView;
    if (latest && (!v || latest.seq > v.seq)) this.setStatus(latest.status);
    else if (v) this.setStatus(v.status);
  }

  private setStatus(s: JobStatusValue): void {
    this.status = s;
    this.commands.setStatus(s);
  }

  private setView(r: Range | undefined): void {
    this.view = r;
    this.schedule();
  }

  /** Runs drawn: the main one first, then the overlays in id order (stable colours and legend). */
  private liveRuns(): RunSeries[] {
    const main = this.mainId ? this.runs.get(this.mainId) : undefined;
    const others = [...this.runs.entries()].filter(([id]) => id !== this.mainId).sort(([a], [b]) => a.localeCompare(b));
    return [...(main ? [main.series] : []), ...others.map(([, r]) => r.series)];
  }

  private schedule(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.draw();
    });
  }

  private settings(): ViewSettings {
    return { axis: this.state.axis, log: this.state.log, smoothing: this.state.smoothing, outliers: this.state.outliers };
  }

  private colors(): Map<string, string> {
    const idx = runColorIndexes([...this.runs.keys()], this.theme.palette.length);
    return new Map([...idx].map(([id, i]) => [id, this.theme.palette[i]]));
  }

  private label(id: string): string {
    return this.runList.find((r) => r.id === id)?.label ?? id;
  }

  private style(s: DrawnSeries, overlay: boolean, colors: Map<string, string>): SeriesStyle {
    const stroke = overlay ? colors.get(s.runId)! : this.theme[s.kind];
    const dash = overlay && s.kind !== 'train' ? (s.kind === 'val' ? [6, 3] : [2, 2]) : undefined;
    const strong = s.kind === 'batch' ? 1.25 : 2;
    const name = `${overlay ? `${this.label(s.runId)}: ` : ''}${KIND_LABEL[s.kind]}${s.role === 'smoothed' ? ' (smoothed)' : ''}`;
    // Raw under smoothed: faint, but epoch losses (few, and what the best epoch is read from) less so.
    const rawAlpha = s.kind === 'batch' ? 0.25 : 0.5;
    return { label: name, stroke, dash, width: s.role === 'raw' ? 1 : strong, alpha: s.role === 'raw' ? rawAlpha : 1, points: s.kind !== 'batch' && s.role !== 'smoothed' };
  }

  private draw(): void {
    // Timed from here: planning (smoothing, decimation, y range) + uPlot's draw + the panel.
    const t0 = performance.now();
    const runs = this.liveRuns();
    const v = this.settings();
    const frame = this.planner.plan(runs, v, this.view, this.chart.columns());
    const overlay = runs.length > 1;
    const colors = this.colors();
    const styles = frame.series.map((s) => this.style(s, overlay, colors));
    const markers: Marker[] = frame.best.map((b) => ({
      x: b.x,
      main: b.runId === this.mainId,
      color: overlay ? colors.get(b.runId)! : this.theme.best,
      label: `best ${b.by} ${fmtLoss(b.value)} · epoch ${b.epoch + 1}`,
    }));
    this.legend = styles.filter((_s, i) => frame.series[i].role !== 'raw').map((st) => ({ label: st.label, color: st.stroke }));
    this.chart.render(frame, styles, v.axis, v.log, this.theme, markers);
    this.controls.setZoomed(this.view !== undefined);
    this.picker.setColors(colors);
    const main = this.mainId ? this.runs.get(this.mainId) : undefined;
    const stats = main?.series.stats();
    if (stats) this.side.setStats({ ...stats, status: this.status ?? stats.status }, { patience: patienceOf(main?.config), drawn: frame.drawn, total: frame.total });
    const best = frame.best.find((b) => b.runId === this.mainId);
    this.chart.setAriaLabel(summary(this.mainId, stats, this.status, v.log, frame.drawn));
    const ms = performance.now() - t0;
    const d = this.root.dataset;
    d.pointsDrawn = String(frame.drawn);
    d.pointsTotal = String(frame.total);
    d.status = this.status ?? '';
    d.drawMs = ms.toFixed(2);
    d.lastSeq = String(main?.series.lastSeq ?? 0);
    if (this.chart.yRange) [d.yMin, d.yMax] = this.chart.yRange.map(String);
    if (best) d.bestEpoch = String(best.epoch);
    else delete d.bestEpoch;
    if (this.mainId) post({ type: 'rendered', job_id: this.mainId, points: frame.drawn, total: frame.total, ...(best ? { best_epoch: best.epoch } : {}), last_seq: main?.series.lastSeq ?? 0, draw_ms: ms, t: Date.now() });
  }

  private export(format: 'csv' | 'png'): void {
    if (format === 'csv') {
      post({ type: 'export', format: 'csv', job_ids: this.mainId ? [this.mainId] : [] });
      this.commands.say('Exporting CSV…');
      return;
    }
    try {
      const dataUrl = this.chart.toPng(this.title.textContent ?? 'Training monitor', this.legend);
      post({ type: 'export', format: 'png', data_url: dataUrl });
      this.commands.say('Exporting PNG…');
    } catch (e) {
      this.commands.say(`PNG export failed: ${(e as Error).message}`, true);
    }
  }
}

/** The job view alone: an extension may send a history page (view + events) as the job; the events are not kept twice. */
function viewOf(job: JobView): JobView {
  if (!('events' in job)) return job;
  const { events: _events, ...view } = job as JobView & { events?: unknown };
  return view;
}

function summary(id: string | undefined, s: ReturnType<RunSeries['stats']> | undefined, status: string | undefined, log: boolean, drawn: number): string {
  if (!s) return 'Loss chart: no data yet';
  const parts = [`Loss chart for job ${id ?? ''}`, `status ${status ?? s.status ?? 'unknown'}`, `${s.epochsDone}${s.maxEpochs !== undefined ? ` of ${s.maxEpochs}` : ''} epochs done`];
  if (s.lastTrain !== undefined) parts.push(`last train loss ${fmtLoss(s.lastTrain)}`);
  if (s.lastVal !== undefined) parts.push(`last validation loss ${fmtLoss(s.lastVal)}`);
  if (s.best) parts.push(`best ${s.best.by === 'val' ? 'validation' : 'train'} loss ${fmtLoss(s.best.value)} at epoch ${s.best.epoch + 1}`);
  parts.push(`${log ? 'log' : 'linear'} scale, ${drawn} points drawn`);
  return parts.join(', ');
}
