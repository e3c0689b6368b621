import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { datasetKindOf } from './datasets.js';
import type { AllowedRoots } from './allowedRoots.js';
import type { Ledger, LedgerWatch } from './Ledger.js';
import type { UploadManager } from './UploadManager.js';

/**
 * Watched folders (kept in the ledger): a `.slp` / `.pkg.slp` / `.zip` that appears in one, or
 * changes, is uploaded when `autoUpload` is on, once its size has stopped changing
 * (chokidar's awaitWriteFinish).
 */
export class Watches {
  private readonly watchers = new Map<string, FSWatcher>();

  constructor(
    private readonly o: { ledger: Ledger; uploads: UploadManager; log: Logger; stabilityMs?: number; roots?: AllowedRoots },
  ) {}

  list(): LedgerWatch[] {
    return this.o.ledger.data.watches.map((w) => ({ ...w }));
  }

  async restore(): Promise<void> {
    for (const w of this.o.ledger.data.watches) await this.start(w).catch((e: unknown) => this.o.log.warn('watch not restored', { path: w.path, error: String((e as Error).message) }));
  }

  async add(path: string, autoUpload: boolean): Promise<LedgerWatch> {
    const abs = resolve(path);
    const st = await stat(abs).catch(() => undefined);
    if (!st) throw new AppError('not_found', `${abs} does not exist; give an existing folder to watch`);
    if (!st.isDirectory()) throw new AppError('bad_request', `${abs} is not a folder; only folders can be watched`);
    const w: LedgerWatch = { path: abs, autoUpload };
    // The same watch again is a no-op: restarting the watcher would treat a file written during
    // the restart as already there (ignoreInitial) and never upload it (seen when a client
    // re-added a folder it had just added).
    const same = this.o.ledger.data.watches.find((x) => x.path === abs);
    if (same && same.autoUpload === autoUpload && this.watchers.has(abs)) return { ...same };
    await this.stop(abs);
    await this.start(w);
    await this.o.ledger.setWatches([...this.o.ledger.data.watches.filter((x) => x.path !== abs), w]);
    return w;
  }

  async remove(path: string): Promise<void> {
    const abs = resolve(path);
    if (!this.o.ledger.data.watches.some((w) => w.path === abs)) throw new AppError('not_found', `${abs} is not watched`);
    await this.stop(abs);
    await this.o.ledger.setWatches(this.o.ledger.data.watches.filter((w) => w.path !== abs));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.watchers.keys()].map((p) => this.stop(p)));
  }

  private async start(w: LedgerWatch): Promise<void> {
    // Here, so that a watch kept from a run without (or with other) --allowed-roots is not restored.
    await this.o.roots?.check(w.path, 'the watched folder');
    const stability = this.o.stabilityMs ?? 1000;
    const watcher = watch(w.path, {
      ignoreInitial: true,
      depth: 0,
      awaitWriteFinish: { stabilityThreshold: stability, pollInterval: Math.min(100, stability / 2) },
      ignored: (p: string) => /(^|[/\\])\./.test(p.slice(w.path.length)),
    });
    // Paths whose upload is being created: two events in a row must not make two uploads.
    const creating = new Set<string>();
    const onFile = (p: string): void => {
      if (!w.autoUpload || datasetKindOf(p) === undefined || creating.has(p)) return;
      // A running or paused upload of this path carries on (it restarts by itself if the file
      // changed); a failed one is left as it is, with its error, and the file uploaded anew.
      const open = this.o.uploads.findUnfinished(p);
      if (open && open.state !== 'failed') return;
      creating.add(p);
      // A symlink in the folder may point outside the roots.
      Promise.resolve(this.o.roots?.check(p, 'the watched file'))
        .then(() => this.o.uploads.create(p, 'watch'))
        .then(
          (v) => this.o.log.info('watched dataset queued', { path: p, upload: v.id }),
          (e: unknown) => this.o.log.warn('watched file refused', { path: p, error: String((e as Error).message) }),
        )
        .finally(() => creating.delete(p));
    };
    watcher.on('add', onFile).on('change', onFile).on('error', (e) => this.o.log.warn('watch error', { path: w.path, error: String(e) }));
    await new Promise<void>((r) => watcher.once('ready', () => r()));
    this.watchers.set(w.path, watcher);
  }

  private async stop(path: string): Promise<void> {
    const w = this.watchers.get(path);
    this.watchers.delete(path);
    await w?.close();
  }
}
