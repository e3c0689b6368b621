/**
 * Runs to overlay: one checkbox per job the extension listed (`runs`), the panel's own job left
 * out. Changing the set posts `compare` with the whole set.
 */
import type { RunSummary } from '../../src/core/monitor/protocol.js';
import { el } from './dom.js';

export class RunPicker {
  readonly root: HTMLElement;
  private readonly list: HTMLElement;
  private runs: RunSummary[] = [];
  private mainId?: string;
  private selected = new Set<string>();

  constructor(private readonly onChange: (ids: string[]) => void) {
    this.list = el('div', { class: 'run-list', id: 'run-list' });
    this.root = el('fieldset', { class: 'runs', id: 'runs', hidden: true }, el('legend', {}, 'Compare with'), this.list);
  }

  set(runs: readonly RunSummary[], mainId: string | undefined, selected: readonly string[]): void {
    this.runs = [...runs];
    this.mainId = mainId;
    this.selected = new Set(selected);
    this.render();
  }

  /** Colour swatches follow the chart's run colours. */
  setColors(colors: ReadonlyMap<string, string>): void {
    for (const sw of this.list.querySelectorAll<HTMLElement>('.swatch')) {
      const c = colors.get(sw.dataset.runId ?? '');
      sw.style.backgroundColor = c ?? 'transparent';
    }
  }

  private render(): void {
    const others = this.runs.filter((r) => r.id !== this.mainId);
    this.root.hidden = others.length === 0;
    this.list.replaceChildren(
      ...others.map((r) => {
        const box = el('input', { type: 'checkbox', id: `run-${r.id}`, value: r.id, checked: this.selected.has(r.id) });
        box.addEventListener('change', () => {
          if (box.checked) this.selected.add(r.id);
          else this.selected.delete(r.id);
          this.onChange([...this.selected]);
        });
        return el('label', { class: 'run', for: `run-${r.id}` }, box, el('span', { class: 'swatch', 'data-run-id': r.id, 'aria-hidden': 'true' }), `${r.label} `, el('span', { class: 'muted' }, `(${r.status})`));
      }),
    );
  }
}
