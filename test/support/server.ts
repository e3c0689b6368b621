import { randomBytes } from 'node:crypto';
import type { S3Target } from './rgw.js';
import { spawnCli, type Spawned } from './proc.js';

export interface ServerProcess {
  url: string;
  bucket: string;
  rooms: Record<string, string>;
  /** The running process (a new one after restart()). */
  readonly proc: Spawned;
  /** fetch against the server with a room's token (or none). */
  // The body is the parsed JSON, as the tests read it: each asserts on the fields it expects, and a
  // missing one fails that assertion (validating every answer again here would only restate the schemas).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
  api(path: string, init?: { method?: string; body?: unknown; room?: string | null; token?: string; rawBody?: string }): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill9(): Promise<void>;
  /** Starts the server again with the same rooms, bucket and port (after kill9 or a stop). */
  restart(): Promise<void>;
}

/** Starts `sleap-rtc server` as a real process against an S3 target, with two rooms. */
/** `env`: more environment for the process (e.g. libfaketime's, for a server whose clock is off). */
export async function startServerProcess(target: S3Target, extra: string[] = [], opts: { built?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<ServerProcess> {
  const bucket = `srv-${randomBytes(4).toString('hex')}`;
  const rooms = { lab: randomBytes(16).toString('hex'), other: randomBytes(16).toString('hex') };
  const launch = (port: number): Promise<Spawned> =>
    spawnCli(
      [
        'server', '--port', String(port), '--bucket', bucket, '--create-bucket',
        '--s3-endpoint', target.endpoint, '--s3-region', target.region,
        '--rooms', Object.entries(rooms).map(([k, v]) => `${k}=${v}`).join(','),
        ...extra,
      ],
      // Secrets go by environment, never on a command line others can read.
      { waitFor: /listening on (http:\/\/\S+)/, built: opts.built, env: { ...opts.env, SLEAP_RTC_S3_ACCESS_KEY: target.accessKeyId, SLEAP_RTC_S3_SECRET_KEY: target.secretAccessKey } },
    );
  let proc = await launch(0);
  const url = proc.line[1];
  return {
    url,
    bucket,
    rooms,
    get proc() {
      return proc;
    },
    async api(path, init = {}) {
      const headers: Record<string, string> = {};
      const token = init.token ?? (init.room === null ? undefined : rooms[(init.room ?? 'lab') as keyof typeof rooms]);
      if (token) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (init.rawBody !== undefined) body = init.rawBody;
      else if (init.body !== undefined) body = JSON.stringify(init.body);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async stop() {
      await proc.stop();
    },
    async kill9() {
      await proc.stop('SIGKILL');
    },
    async restart() {
      await proc.stop();
      proc = await launch(Number(new URL(url).port));
    },
  };
}
