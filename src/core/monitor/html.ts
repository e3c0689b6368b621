/**
 * The Training Monitor's HTML shell, made by the extension for its WebviewPanel (pure: no vscode
 * import, so the browser test loads the very same page in Chromium). One stylesheet, one script
 * with the panel's nonce, nothing inline: the CSP allows no inline script or style and no eval.
 * The script (media/monitor/main.ts) builds the page inside #monitor and keeps its data-*
 * attributes (points drawn/total, best epoch, status, job id) up to date for tests.
 */
export interface MonitorHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh random nonce per load (base64 or hex). */
  nonce: string;
  /** `webview.asWebviewUri(media/dist/monitor.js)`. */
  scriptUri: string;
  /** `webview.asWebviewUri(media/dist/monitor.css)`. */
  styleUri: string;
  title: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

export function monitorCsp(cspSource: string, nonce: string): string {
  return `default-src 'none'; img-src ${cspSource} data:; style-src ${cspSource}; script-src 'nonce-${nonce}'; font-src ${cspSource};`;
}

export function monitorHtml(o: MonitorHtmlOptions): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(o.nonce)) throw new Error('the nonce must be 16+ base64/hex characters');
  const e = escapeHtml;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${e(monitorCsp(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${e(o.title)}</title>
<link rel="stylesheet" href="${e(o.styleUri)}">
</head>
<body>
<main id="monitor" class="monitor" aria-label="${e(o.title)}" data-points-drawn="0" data-points-total="0" data-status="" data-job-id=""><p class="monitor-loading">Loading the training monitor…</p></main>
<script nonce="${e(o.nonce)}" src="${e(o.scriptUri)}"></script>
</body>
</html>
`;
}
