/**
 * The numbers beside the chart (status, epochs, losses, best, timing) and what was trained on
 * what (config and dataset rows). Definition lists: screen readers read them as label/value.
 */
import type { SlpSummaryView } from '../../src/core/schemas/agent.js';
import { configRows, datasetRows } from './describe.js';
import { el, setRows } from './dom.js';
import type { RunStats } from './EpochLog.js';
import { fmtDuration, fmtLoss } from './format.js';

export class SidePanel {
  readonly root: HTMLElement;
  private readonly stats: HTMLElement;
  private readonly config: HTMLElement;
  private readonly dataset: HTMLElement;
  private readonly datasetSection: HTMLElement;
  private last = '';

  constructor() {
    this.stats = el('dl', { id: 'stats', class: 'rows' });
    this.config = el('dl', { id: 'config', class: 'rows' });
    this.dataset = el('dl', { id: 'dataset', class: 'rows' });
    this.datasetSection = el('section', { 'aria-labelledby': 'h-dataset', hidden: true }, el('h2', { id: 'h-dataset' }, 'Dataset'), this.dataset);
    this.root = el(
      'aside',
      { class: 'side', 'aria-label': 'Training details' },
      el('section', { 'aria-labelledby': 'h-progress' }, el('h2', { id: 'h-progress' }, 'Progress'), this.stats),
      el('section', { 'aria-labelledby': 'h-config' }, el('h2', { id: 'h-config' }, 'Training config'), this.config),
      this.datasetSection,
    );
  }

  setStats(s: RunStats, extra: { patience?: number; drawn: number; total: number }): void {
    const epochs = s.maxEpochs !== undefined ? `${s.epochsDone} / ${s.maxEpochs}` : String(s.epochsDone);
    const best = s.best ? `${fmtLoss(s.best.value)} (epoch ${s.best.epoch + 1}${s.best.by === 'train' ? ', train: no validation' : ''})` : '–';
    const since = s.epochsSinceBest === undefined ? '–' : extra.patience !== undefined ? `${s.epochsSinceBest} of patience ${extra.patience}` : String(s.epochsSinceBest);
    const rows: [string, string][] = [
      ['Status', s.status ?? '–'],
      ['Epochs done', epochs],
      ['Train loss', fmtLoss(s.lastTrain)],
      ['Validation loss', fmtLoss(s.lastVal)],
      ['Best validation', best],
      ['Epochs since best', since],
      ['Mean epoch time', fmtDuration(s.meanEpochMs)],
      ['ETA', s.etaMs === undefined ? '–' : fmtDuration(s.etaMs)],
      ['Learning rate', s.lastLr === undefined ? '–' : s.lastLr.toPrecision(3)],
      ['Points', `${extra.total.toLocaleString('en-US')} (${extra.drawn.toLocaleString('en-US')} drawn)`],
    ];
    const key = JSON.stringify(rows);
    if (key === this.last) return; // no DOM work when nothing changed
    this.last = key;
    setRows(this.stats, rows);
  }

  setConfig(config: unknown): void {
    const rows = configRows(config);
    setRows(this.config, rows.length > 0 ? rows : [['Config', 'not available']]);
  }

  setSummary(summary: SlpSummaryView | undefined): void {
    const rows = datasetRows(summary);
    this.datasetSection.hidden = rows.length === 0;
    setRows(this.dataset, rows);
  }
}
