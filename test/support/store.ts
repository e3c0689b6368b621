import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli, type CliBuild, type Spawned } from './proc.js';
import type { S3Target } from './rgw.js';

export type { S3Target };

/** The embedded store as a real `sleap-rtc store` process, with what crash tests need. */
export interface EmbeddedStoreTarget extends S3Target {
  /** The store's --data folder (a fresh temp folder unless one was given). */
  dataDir: string;
  /** pid of the running store process. */
  readonly pid: number;
  /** SIGKILL, as a crash: nothing is cleaned up. */
  kill9(): Promise<void>;
  /** Sends `signal`, waits for the exit and gives its code; the data folder stays. */
  terminate(signal: NodeJS.Signals): Promise<number | null>;
  /** Starts the store again on the same data folder and port (after kill9 or a stop). */
  restart(): Promise<void>;
  stderrTail(): string;
}

export interface EmbeddedStoreOptions {
  /** Reuse this data folder; it is then not removed by stop(). */
  dataDir?: string;
  extraArgs?: string[];
  /** Run the built dist/cli.js (or 'bundled': dist/bundled/) instead of the sources (benchmarks measure what users run). */
  built?: CliBuild;
}

/**
 * Spawns `node --import tsx src/cli.ts store --port 0 --data <tmp> ...` from the repo root and
 * waits for its `listening on` line; stop() sends SIGTERM, waits for the exit and removes the
 * temp folder.
 */
export async function startEmbeddedStore(opts: EmbeddedStoreOptions = {}): Promise<EmbeddedStoreTarget> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'sleap-rtc-store-')));
  const accessKeyId = `AK${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64');
  const launch = (port: number): Promise<Spawned> =>
    spawnCli(['store', '--port', String(port), '--data', dataDir, '--access-key', accessKeyId, ...(opts.extraArgs ?? [])], {
      waitFor: /listening on (http:\/\/\S+)/,
      timeoutMs: 30_000,
      built: opts.built,
      // The secret goes by environment, never on a command line others can read.
      env: { SLEAP_RTC_SECRET_KEY: secretAccessKey },
    });
  let proc = await launch(0);
  const endpoint = proc.line[1];
  const port = Number(new URL(endpoint).port);
  return {
    name: 'embedded',
    endpoint,
    region: 'us-east-1',
    accessKeyId,
    secretAccessKey,
    quirks: { ifMatchUnquoted: false, conditionalComplete: true, completeEtagEmpty: false },
    dataDir,
    get pid() {
      return proc.child.pid ?? -1;
    },
    stderrTail: () => proc.stderrTail(),
    async stop() {
      await proc.stop('SIGTERM');
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
    async kill9() {
      await proc.stop('SIGKILL');
    },
    terminate: (signal) => proc.stop(signal),
    async restart() {
      await proc.stop('SIGTERM');
      proc = await launch(port);
    },
  };
}
