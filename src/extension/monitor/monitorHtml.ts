/**
 * The Training Monitor's HTML shell: a strict CSP (nothing inline, scripts only with this
 * load's nonce, resources only from the extension's media/ folder) around the bundled script
 * and styles. Pure, so tested without VS Code.
 */
export function monitorHtml(o: { cspSource: string; nonce: string; scriptUri: string; styleUri: string; title: string }): string {
  const csp = [`default-src 'none'`, `img-src ${o.cspSource} data:`, `style-src ${o.cspSource}`, `script-src 'nonce-${o.nonce}'`, `font-src ${o.cspSource}`].join('; ');
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${esc(o.styleUri)}">
<title>${esc(o.title)}</title>
</head>
<body>
<div id="app" role="main" aria-label="${esc(o.title)}"></div>
<script nonce="${o.nonce}" src="${esc(o.scriptUri)}"></script>
</body>
</html>`;
}
