import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createLogger, type Logger } from '../../../src/core/log.js';
import { makeS3Client } from '../../../src/core/s3client.js';
import { BackendClient } from '../../../src/core/transfer/BackendClient.js';
import { startFaultProxy, type FaultProxy } from '../../support/faultProxy.js';
import { startServerProcess, type ServerProcess } from '../../support/server.js';
import type { S3Target, TargetFactory } from '../../support/targets.js';

export const MiB = 1024 * 1024;

/**
 * The one setup of the transfer integration suites: an S3 target, the fault proxy in front of
 * it, and `sleap-rtc server` signing URLs for the proxy's address (--s3-public-endpoint), so
 * every part PUT and range GET of a presigned transfer crosses the proxy.
 */
export interface TransferEnv {
  target: S3Target;
  proxy: FaultProxy;
  srv: ServerProcess;
  /** The backend, as the agent reaches it (room "lab"). */
  backend: BackendClient;
  /** A client of the target itself (the independent reader). */
  s3: S3Client;
  /** A client whose requests cross the proxy (direct-credential transfers under faults). */
  s3ViaProxy: S3Client;
  dir: string;
  stop(): Promise<void>;
}

export async function startTransferEnv(factory: TargetFactory, serverArgs: string[] = []): Promise<TransferEnv> {
  // One more try when the target fails to boot: scripts/rgw.sh's `ceph osd create` sometimes
  // gets EPERM ("problem getting command descriptions from mon") right after the monitor first
  // answered, on a loaded machine. That is the fixture's race, not the engine under test.
  const target = await factory.start().catch((e: unknown) => {
    process.stderr.write(`${factory.name} did not start (${(e as Error).message.split('\n')[0]}); trying once more\n`);
    return factory.start();
  });
  const proxy = await startFaultProxy(target.endpoint);
  const srv = await startServerProcess(target, ['--s3-public-endpoint', proxy.url, ...serverArgs]);
  const creds = { region: target.region, accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey, forcePathStyle: true };
  const s3 = makeS3Client({ ...creds, endpoint: target.endpoint });
  const s3ViaProxy = makeS3Client({ ...creds, endpoint: proxy.url });
  const dir = await mkdtemp(join(tmpdir(), 'xfer-'));
  return {
    target,
    proxy,
    srv,
    backend: new BackendClient({ baseUrl: srv.url, token: srv.rooms.lab }),
    s3,
    s3ViaProxy,
    dir,
    async stop() {
      s3.destroy();
      s3ViaProxy.destroy();
      await srv.stop();
      await proxy.close();
      await target.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A file of random bytes written 1 MiB at a time (never whole in memory); returns its SHA-256. */
export async function randomFile(dir: string, name: string, bytes: number): Promise<{ path: string; size: number; sha256: string }> {
  const path = join(dir, name);
  const fh = await open(path, 'w');
  const h = createHash('sha256');
  const buf = Buffer.alloc(MiB);
  try {
    for (let off = 0; off < bytes; off += MiB) {
      const n = Math.min(MiB, bytes - off);
      randomFillSync(buf, 0, n);
      h.update(buf.subarray(0, n));
      await fh.write(buf, 0, n, off);
    }
  } finally {
    await fh.close();
  }
  return { path, size: bytes, sha256: h.digest('hex') };
}

export async function sha256OfFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** SHA-256 of an object read with the S3 SDK's GetObject (independent of the engine's reader). */
export async function sdkSha256(s3: S3Client, bucket: string, key: string): Promise<{ sha256: string; size: number; metadata: Record<string, string> }> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const h = createHash('sha256');
  let size = 0;
  for await (const c of r.Body as AsyncIterable<Uint8Array>) {
    h.update(c);
    size += c.length;
  }
  return { sha256: h.digest('hex'), size, metadata: r.Metadata ?? {} };
}

/** A logger that keeps its lines (to assert on what the engine reported). */
export function memoryLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { log: createLogger('test', {}, (l) => void lines.push(JSON.parse(l))), lines };
}
