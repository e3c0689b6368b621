/**
 * The toolbar: x axis, log scale, smoothing, ignore outliers, reset zoom, exports. Native form
 * controls with labels, so each has an accessible name and is reachable by Tab.
 */
import { el } from './dom.js';
import type { ViewSettings, XAxis } from './frame.js';

export interface ControlsCallbacks {
  onChange(patch: Partial<ViewSettings>): void;
  onResetZoom(): void;
  onExport(format: 'csv' | 'png'): void;
}

export class Controls {
  readonly root: HTMLElement;
  private readonly axis: HTMLSelectElement;
  private readonly log: HTMLInputElement;
  private readonly smoothing: HTMLInputElement;
  private readonly smoothingOut: HTMLOutputElement;
  private readonly outliers: HTMLInputElement;
  readonly resetZoom: HTMLButtonElement;

  constructor(cb: ControlsCallbacks) {
    this.axis = el('select', { id: 'axis', name: 'axis' }, el('option', { value: 'epoch' }, 'Epoch'), el('option', { value: 'step' }, 'Step'), el('option', { value: 'time' }, 'Wall time'));
    this.log = el('input', { type: 'checkbox', id: 'log', name: 'log' });
    this.smoothing = el('input', { type: 'range', id: 'smoothing', name: 'smoothing', min: 0, max: 0.99, step: 0.01 });
    this.smoothingOut = el('output', { id: 'smoothing-value', for: 'smoothing' });
    this.outliers = el('input', { type: 'checkbox', id: 'outliers', name: 'outliers' });
    this.resetZoom = el('button', { type: 'button', id: 'reset-zoom', title: 'Show all data again (or double-click the chart, or press 0 on it)' }, 'Reset zoom');
    const csv = el('button', { type: 'button', id: 'export-csv', title: 'Every point of this run, from the agent’s history' }, 'Export CSV');
    const png = el('button', { type: 'button', id: 'export-png', title: 'The chart as drawn' }, 'Export PNG');
    this.root = el(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Chart options' },
      el('label', { class: 'field' }, 'X axis ', this.axis),
      el('label', { class: 'field' }, this.log, ' Log scale'),
      el('span', { class: 'field' }, el('label', { for: 'smoothing' }, 'Smoothing '), this.smoothing, this.smoothingOut),
      el('label', { class: 'field', title: 'Scale y to each series’ values within 1.5 × IQR of its quartiles' }, this.outliers, ' Ignore outliers'),
      this.resetZoom,
      el('span', { class: 'spacer' }),
      csv,
      png,
    );
    this.axis.addEventListener('change', () => cb.onChange({ axis: this.axis.value as XAxis }));
    this.log.addEventListener('change', () => cb.onChange({ log: this.log.checked }));
    this.smoothing.addEventListener('input', () => {
      const w = Number(this.smoothing.value);
      this.showSmoothing(w);
      cb.onChange({ smoothing: w });
    });
    this.outliers.addEventListener('change', () => cb.onChange({ outliers: this.outliers.checked }));
    this.resetZoom.addEventListener('click', () => cb.onResetZoom());
    csv.addEventListener('click', () => cb.onExport('csv'));
    png.addEventListener('click', () => cb.onExport('png'));
  }

  set(v: ViewSettings): void {
    this.axis.value = v.axis;
    this.log.checked = v.log;
    this.smoothing.value = String(v.smoothing);
    this.showSmoothing(v.smoothing);
    this.outliers.checked = v.outliers;
  }

  setZoomed(zoomed: boolean): void {
    this.resetZoom.disabled = !zoomed;
  }

  private showSmoothing(w: number): void {
    const text = w === 0 ? 'off' : w.toFixed(2);
    this.smoothingOut.value = text;
    this.smoothing.setAttribute('aria-valuetext', w === 0 ? 'off' : `weight ${w.toFixed(2)}`);
  }
}
