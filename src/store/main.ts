import { join } from 'node:path';
import { z } from 'zod';
import { loadCommandConfig, portSchema } from '../core/config.js';
import { createLogger, type Logger } from '../core/log.js';
import { dataHome } from '../core/paths.js';
import { runUntilSignal } from '../core/service.js';
import { S3Store } from './S3Store.js';

const required = (what: string) => ({ error: (iss: { input: unknown }) => (iss.input === undefined ? `is required: ${what}` : `must be a string: ${what}`) });

export const storeConfigSchema = z.object({
  port: portSchema.default(9000),
  host: z.string().min(1).default('127.0.0.1'),
  /** The folder that holds buckets, objects and uploads. */
  data: z.string(required('the folder that holds the buckets')).min(1).optional(),
  accessKey: z.string(required('the access key id clients sign with')).min(1, 'must not be empty'),
  secretKey: z.string(required('the secret access key clients sign with')).min(1, 'must not be empty'),
  region: z.string().regex(/^[a-z0-9-]{1,64}$/, 'a region name such as us-east-1').default('us-east-1'),
  /** Comma-separated bucket names (or an array in a config file) created at start. */
  buckets: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))),
});
export type StoreConfig = z.infer<typeof storeConfigSchema>;

export interface StartStoreOptions {
  /** The store's folder (created when missing). */
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** 0 (the default here) picks a free port. */
  port?: number;
  host?: string;
  region?: string;
  buckets?: string[];
  log?: Logger;
}

export interface RunningStore {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the embedded S3 store in this process. */
export async function startStore(opts: StartStoreOptions): Promise<RunningStore> {
  const store = await S3Store.start({
    dataDir: opts.dataDir,
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    region: opts.region ?? 'us-east-1',
    credentials: new Map([[opts.accessKeyId, opts.secretAccessKey]]),
    buckets: opts.buckets,
    log: opts.log ?? createLogger('store'),
  });
  return { url: store.url, port: store.port, close: () => store.close() };
}

/** `sleap-rtc store`: flags > SLEAP_RTC_* environment > --config file. */
export async function runStore(flags: Record<string, unknown>): Promise<void> {
  const cfg = loadCommandConfig(storeConfigSchema, flags);
  const dataDir = cfg.data ?? join(dataHome(undefined, process.env), 'store');
  const log = createLogger('store');
  const store = await startStore({ dataDir, accessKeyId: cfg.accessKey, secretAccessKey: cfg.secretKey, port: cfg.port, host: cfg.host, region: cfg.region, buckets: cfg.buckets, log });
  process.stdout.write(`listening on ${store.url}\n`);
  log.info('store ready', { url: store.url, data: dataDir, region: cfg.region });
  await runUntilSignal(store, log);
}
