import { createServer } from 'node:http';
import { listenOn } from '../core/listen.js';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { loadCommandConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/log.js';
import { makeS3Client } from '../core/s3client.js';
import { runUntilSignal } from '../core/service.js';
import { backendRoutes } from './backendRoutes.js';
import { resolveRooms, serverConfigSchema, type ServerConfig } from './config.js';
import { errorMiddleware } from '../core/http.js';
import { RoomAuth } from './RoomAuth.js';
import { attachSignaling } from './signaling/wsServer.js';
import { translateS3Error, UploadBackend } from './UploadBackend.js';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startServer(cfg: ServerConfig, log: Logger = createLogger('server')): Promise<RunningServer> {
  const rooms = resolveRooms(cfg);
  const endpoint = { endpoint: cfg.s3Endpoint, region: cfg.s3Region, accessKeyId: cfg.s3AccessKey, secretAccessKey: cfg.s3SecretKey };
  const s3 = makeS3Client(endpoint);
  const presigner = cfg.s3PublicEndpoint ? makeS3Client({ ...endpoint, endpoint: cfg.s3PublicEndpoint }) : s3;
  await ensureBucket(s3, cfg.bucket, cfg.createBucket, log);

  const auth = new RoomAuth(rooms);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.get('/healthz', (_req, res) => void res.json({ ok: true }));
  app.use(
    backendRoutes({
      auth,
      backend: new UploadBackend({ s3, presigner, bucket: cfg.bucket, urlTtlSeconds: cfg.urlTtl, log: log.child('backend') }),
      defaultPartSize: cfg.partSize,
      log,
    }),
  );
  app.use((req, res) => void res.status(404).json({ error: { code: 'not_found', message: `no route ${req.method} ${req.path}` } }));
  app.use(errorMiddleware(log, 'server'));

  const http = createServer(app);
  await listenOn(http, cfg.port, cfg.host, 'server');
  const signaling = attachSignaling(http, {
    auth,
    pingIntervalMs: (cfg.pingInterval ?? 30) * 1000,
    peerTimeoutMs: cfg.peerTimeout === undefined ? undefined : cfg.peerTimeout * 1000,
    allowedOrigins: cfg.allowedOrigins,
    log: log.child('signaling'),
  });
  const port = (http.address() as AddressInfo).port;
  const host = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: async () => {
      await signaling.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeIdleConnections();
        s3.destroy();
        if (presigner !== s3) presigner.destroy();
      });
    },
  };
}

async function ensureBucket(s3: ReturnType<typeof makeS3Client>, bucket: string, create: boolean, log: Logger): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404 || !create) {
      if (status === 404) log.warn('bucket does not exist; start with --create-bucket to create it', { bucket });
      else throw translateS3Error(e);
      return;
    }
  }
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((e: unknown) => {
    const name = (e as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw translateS3Error(e);
  });
  log.info('bucket created', { bucket });
}

export async function runServer(flags: Record<string, unknown>): Promise<void> {
  const cfg = loadCommandConfig(serverConfigSchema, flags);
  const log = createLogger('server');
  const server = await startServer(cfg, log);
  process.stdout.write(`listening on ${server.url}\n`);
  log.info('backend ready', { url: server.url, bucket: cfg.bucket, s3: cfg.s3Endpoint ?? 'aws' });
  await runUntilSignal(server, log);
}
