// media/dist/: the webviews' scripts (browser, IIFE, no Node APIs) and styles. The webview loads
// only files under media/ (localResourceRoots), so everything it needs is bundled here.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

export default async function buildWebviews() {
  await rm('media/dist', { recursive: true, force: true });
  await build({
    entryPoints: { monitor: 'media/monitor/main.ts' },
    outdir: 'media/dist',
    bundle: true,
    platform: 'browser',
    target: 'chrome120',
    format: 'iife',
    sourcemap: true,
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
}
