// dist/cli.js: every process (store, server, agent, worker, stack) behind one CLI.
// Code splitting: each subcommand is a chunk loaded by its `await import()`, so `sleap-rtc store`
// loads neither werift nor h5wasm nor the AWS SDK (dependencies stay external; a single bundle
// would import every one of them at start: 134 MiB RSS instead of ~50 for the store).
import { build } from 'esbuild';
import { nodeBundle } from './node.mjs';
import { copyDocs } from './docs.mjs';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';

export default async function buildCli() {
  await rm('dist/chunks', { recursive: true, force: true });
  await build({
    entryPoints: { cli: 'src/cli.ts' },
    outdir: 'dist',
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    ...nodeBundle,
    format: 'esm',
    sourcemap: true,
    packages: 'external',
  });
  // The shebang goes on the entry only (a banner would put it in every chunk).
  const entry = await readFile('dist/cli.js', 'utf8');
  await writeFile('dist/cli.js', '#!/usr/bin/env node\n' + entry);
  await chmod('dist/cli.js', 0o755);
  await copyDocs('dist');
}
