// Bundles the CLI (every process: store, server, agent, worker, stack) into dist/.
// Code splitting: each subcommand is a chunk loaded by its `await import()`, so `sleap-rtc store`
// loads neither werift nor h5wasm nor the AWS SDK (dependencies stay external; a single bundle
// would import every one of them at start: 134 MiB RSS instead of ~50 for the store).
// The VS Code extension bundle is added here when src/extension lands.
import { build } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  packages: 'external',
  logLevel: 'warning',
});
// The shebang goes on the entry only (a banner would put it in every chunk).
const { readFile, writeFile } = await import('node:fs/promises');
const entry = await readFile('dist/cli.js', 'utf8');
await writeFile('dist/cli.js', '#!/usr/bin/env node\n' + entry);
await chmod('dist/cli.js', 0o755);
