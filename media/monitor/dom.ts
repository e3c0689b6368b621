/**
 * A small element builder: attributes and text only. Never innerHTML with data (job labels and
 * config values come from users), never a `style` attribute string (the CSP blocks it; styles
 * live in monitor.css, and the few computed ones are set through element.style).
 */
type Attrs = Record<string, string | number | boolean | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'style') throw new Error('set styles through monitor.css or element.style');
    e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) e.append(c);
  return e;
}

/** Replaces a definition list's rows. */
export function setRows(dl: HTMLElement, rows: readonly [string, string][]): void {
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}
