import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread from its entry module (a `*Thread.ts` file: the store's hash writers,
 * the transfer engine's MD5 checks). Each such module exports its own `import.meta.url` and is
 * imported only dynamically, so that in dist/cli.js and dist/bundled/ esbuild gives it a chunk of
 * its own and that URL is a file a worker can start from; no path is guessed.
 *
 * Run from the sources (tsx: tests, benchmarks) the entry is a .ts file, which a worker cannot
 * load by itself: on Node 20 tsx installs its loader on the main thread only. The worker's first
 * code then installs it there (tsx's own API, found from here) and imports the entry.
 */
export function startWorkerThread(entryUrl: string, options: WorkerOptions = {}): Worker {
  if (!entryUrl.endsWith('.ts')) return new Worker(new URL(entryUrl), options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entryUrl)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
