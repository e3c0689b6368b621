/**
 * Colours for the canvas, read from VS Code's theme variables (the DOM uses them through
 * monitor.css). Read again whenever VS Code changes theme: it swaps the body's class
 * (vscode-light | vscode-dark | vscode-high-contrast[-light]) and the variables with it.
 */
export interface Theme {
  kind: 'light' | 'dark' | 'high-contrast';
  foreground: string;
  muted: string;
  grid: string;
  background: string;
  font: string;
  /** Per-series colours for a single run. */
  train: string;
  val: string;
  batch: string;
  best: string;
  /** Per-run colours when runs are overlaid. */
  palette: string[];
  /** Line width multiplier (high contrast draws thicker). */
  widthScale: number;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback;
}

export function readTheme(): Theme {
  const body = document.body;
  const s = getComputedStyle(body);
  const kind = body.classList.contains('vscode-high-contrast') || body.classList.contains('vscode-high-contrast-light') ? 'high-contrast' : body.classList.contains('vscode-light') ? 'light' : 'dark';
  const light = kind === 'light' || body.classList.contains('vscode-high-contrast-light');
  const fg = cssVar(s, '--vscode-editor-foreground', light ? '#333333' : '#cccccc');
  const blue = cssVar(s, '--vscode-charts-blue', '#3794ff');
  const orange = cssVar(s, '--vscode-charts-orange', '#d18616');
  const green = cssVar(s, '--vscode-charts-green', '#89d185');
  const purple = cssVar(s, '--vscode-charts-purple', '#b180d7');
  const red = cssVar(s, '--vscode-charts-red', '#f14c4c');
  const yellow = cssVar(s, '--vscode-charts-yellow', '#cca700');
  const family = cssVar(s, '--vscode-font-family', 'system-ui, sans-serif');
  const size = cssVar(s, '--vscode-font-size', '13px');
  return {
    kind,
    foreground: fg,
    muted: cssVar(s, '--vscode-descriptionForeground', fg),
    grid: cssVar(s, '--vscode-editorWidget-border', cssVar(s, '--vscode-panel-border', light ? '#d4d4d4' : '#454545')),
    background: cssVar(s, '--vscode-editor-background', light ? '#ffffff' : '#1e1e1e'),
    font: `${size} ${family}`,
    train: blue,
    val: orange,
    batch: purple,
    best: green,
    palette: [blue, orange, green, purple, red, yellow],
    widthScale: kind === 'high-contrast' ? 1.5 : 1,
  };
}

/** Calls `onChange` after VS Code switches theme (body class changes). Returns a disposer. */
export function onThemeChange(onChange: () => void): () => void {
  const mo = new MutationObserver(() => onChange());
  mo.observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind'] });
  return () => mo.disconnect();
}
