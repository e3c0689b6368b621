// dist/bundled/sleap-rtc.mjs: the CLI with its dependencies bundled in, so the VS Code extension
// can run the agent (and `sleap-rtc stack`) with the editor's own Node and nothing installed.
// zeromq stays out: a native addon that only the sleap-nn trainer loads (lazily), on GPU workers
// that install the package. Split like dist/cli.js so `agent` loads only what the agent needs.
import { build } from 'esbuild';
import { nodeBundle } from './node.mjs';
import { copyDocs } from './docs.mjs';
import { rm } from 'node:fs/promises';

export default async function buildBundled() {
  await rm('dist/bundled', { recursive: true, force: true });
  await build({
    entryPoints: { 'sleap-rtc': 'src/cli.ts' },
    outdir: 'dist/bundled',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    ...nodeBundle,
    format: 'esm',
    external: ['zeromq'],
    // Some bundled CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __sleapRtcRequire } from 'node:module'; const require = __sleapRtcRequire(import.meta.url);" },
    legalComments: 'none',
  });
  await copyDocs('dist/bundled');
}
