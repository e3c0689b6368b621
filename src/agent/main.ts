import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { listenOn } from '../core/listen.js';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { loadCommandConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/log.js';
import { dataHome } from '../core/paths.js';
import { warnIfDataFolderExposed } from '../core/dataPrivacy.js';
import { runUntilSignal } from '../core/service.js';
import { BackendClient } from '../core/transfer/BackendClient.js';
import { agentConfigSchema, resolveRoom, resolveRoomToken, type AgentConfig } from './config.js';
import { iceServer } from '../core/rtc/linkConfig.js';
import { JobManager } from './jobs/JobManager.js';
import { Models } from './jobs/Models.js';
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { Ledger } from './Ledger.js';
import { acquireLock } from './lock.js';
import { openApiDocument } from './openapi.js';
import { errorMiddleware, jsonBodies, methodNotAllowed } from '../core/http.js';
import { agentRoutes } from './routes.js';
import { fetchSiteGuard, hostGuard, originGuard, tokenGuard } from './security.js';
import { docsRoutes } from './docs.js';
import { allowedRoots, type AllowedRoots } from './allowedRoots.js';
import cors from 'cors';
import { UploadManager } from './UploadManager.js';
import { Watches } from './Watches.js';
import { removeAgentConnection, writeAgentConnection } from './connectionFile.js';
import { VERSION } from '../core/version.js';
import type { AgentHealth } from '../core/agentConnection.js';

export interface RunningAgent {
  url: string;
  port: number;
  tokenFile: string;
  /** `<data>/agent/agent.json`, which clients read to find this agent. */
  connectionFile: string;
  /** The express app serving the API (tests walk its router to check the OpenAPI document). */
  app: express.Express;
  close(): Promise<void>;
}

/**
 * `<data>/agent/token`: made once (0600; on Windows private by the profile folder's ACL, see
 * core/dataPrivacy.ts), then reused so that clients keep working across restarts. Written with
 * tmp + rename (the agent holds the data folder's lock), and made anew if it is empty or cut
 * short, which would otherwise lock every client out.
 */
export function agentToken(dir: string): { token: string; file: string } {
  const file = join(dir, 'token');
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 32) return { token, file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = randomBytes(32).toString('base64url');
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, token + '\n', { mode: 0o600 });
  renameSync(tmp, file);
  return { token, file };
}

/** The opened state every upload front end shares (agent and `sleap-rtc upload`): lock, ledger, manager. */
export async function openUploads(cfg: Pick<AgentConfig, 'server' | 'roomToken' | 'stackSecrets' | 'concurrency' | 'partSize'> & Partial<Pick<AgentConfig, 'outageLimit'>> & { data: string }, log: Logger, what: string) {
  const roomToken = resolveRoomToken(cfg);
  const dir = join(cfg.data, 'agent');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  warnIfDataFolderExposed(cfg.data, log);
  const lock = acquireLock(join(dir, 'agent.lock'), what);
  try {
    const ledger = await Ledger.open(join(dir, 'ledger.json'));
    if (ledger.recovered) {
      log.warn(
        `the ledger ${ledger.file} could not be read (${ledger.recovered.reason}): it was kept aside as ${ledger.recovered.keptAs} and ${what} starts with an empty ledger; uploads, watches and jobs it listed are no longer known here (what they put on S3 is untouched): upload or submit them again`,
        { kept_as: ledger.recovered.keptAs },
      );
    }
    const outageLimitMs = (cfg.outageLimit ?? 3600) * 1000;
    const backend = new BackendClient({ baseUrl: cfg.server, token: roomToken, outageLimitMs });
    const uploads = new UploadManager({ ledger, backend, manifestDir: join(dir, 'manifests'), concurrency: cfg.concurrency, partSize: cfg.partSize, outageLimitMs, log });
    return { dir, lock, ledger, uploads, backend, roomToken };
  } catch (e) {
    lock.release();
    throw e;
  }
}

export async function startAgent(cfg: AgentConfig & { data: string }, log: Logger = createLogger('agent')): Promise<RunningAgent> {
  const { dir, lock, ledger, uploads, backend, roomToken } = await openUploads(cfg, log, 'the agent');
  const { token, file: tokenFile } = agentToken(dir);
  let jobs: JobManager;
  let models: Models;
  let roots: AllowedRoots;
  try {
    roots = allowedRoots(cfg.allowedRoots);
    const room = resolveRoom(cfg);
    const ice = z.array(iceServer).safeParse(cfg.iceServers ?? []);
    if (!ice.success) throw new AppError('config_invalid', `--ice-servers must be a JSON list of {"urls": ...}: ${ice.error.issues[0]?.message}`);
    jobs = new JobManager({
      ledger,
      uploads,
      backend,
      historyDir: join(dir, 'jobs'),
      server: cfg.server,
      room,
      roomToken,
      link: { iceServers: ice.data, loopbackOnly: cfg.loopbackOnly, deadAfterMs: Math.round(cfg.linkDeadAfter * 1000) },
      log: log.child('jobs'),
    });
    models = new Models(backend, room);
  } catch (e) {
    await uploads.close();
    lock.release();
    throw e;
  }
  const watches = new Watches({ ledger, uploads, roots, log: log.child('watch'), stabilityMs: cfg.watchStability * 1000 });
  let port = cfg.port;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const origins = cfg.allowedOrigins ?? [];
  // Pages from an allow-listed origin (e.g. a Jupyter server) may call the API from a browser:
  // CORS headers for them, and preflights answered before the token guard (a preflight carries
  // no Authorization). Every other Origin was refused by originGuard already.
  app.use(hostGuard(() => port), originGuard(origins, () => port), fetchSiteGuard(origins), cors({ origin: origins, methods: ['GET', 'POST', 'DELETE'], allowedHeaders: ['authorization', 'content-type', 'last-event-id'], maxAge: 600 }));
  // The server URL as the client called it (Host is one of the agent's own, hostGuard checked
  // it), so that /docs opened on localhost calls localhost: same origin, as its CSP requires.
  app.get('/openapi.json', (req, res) => void res.json(openApiDocument(`http://${req.headers.host}`)));
  app.use(docsRoutes());
  // Liveness for the clients that supervise the agent: no token (a client checking whether a
  // stale connection file's agent still runs may not have the right one), but behind the Host
  // and Origin guards, and it tells nothing secret.
  app.get('/health', (_req, res) => void res.set('cache-control', 'no-store').json({ status: 'ok', version: VERSION, pid: process.pid } satisfies AgentHealth));
  app.use('/api', tokenGuard(token, tokenFile), ...jsonBodies(64 * 1024), agentRoutes({ uploads, watches, jobs, models, roots, log }));
  app.use(methodNotAllowed(openApiDocument('').paths));
  app.use((req, res) => void res.status(404).json({ error: { code: 'not_found', message: `no route ${req.method} ${req.path}` } }));
  app.use(errorMiddleware(log, 'agent'));
  let http: Server;
  try {
    http = createServer(app);
    await listenOn(http, cfg.port, '127.0.0.1', 'agent');
  } catch (e) {
    await uploads.close();
    lock.release();
    throw e;
  }
  port = (http.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const stopHttp = () =>
    new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  let connectionFile: string;
  try {
    uploads.resumeUnfinished();
    await watches.restore();
    await jobs.start();
    // Last, so that a client that finds the file finds an agent that is fully up.
    connectionFile = writeAgentConnection(cfg.data, { url, token });
  } catch (e) {
    await watches.close();
    await jobs.close();
    await uploads.close();
    await stopHttp();
    lock.release();
    throw e;
  }
  return {
    url,
    port,
    tokenFile,
    connectionFile,
    app,
    close: async () => {
      // First, so that no client finds an agent that is going away.
      removeAgentConnection(cfg.data);
      await watches.close();
      await jobs.close();
      await uploads.close();
      await stopHttp();
      lock.release();
    },
  };
}

export async function runAgent(flags: Record<string, unknown>): Promise<void> {
  const cfg = loadCommandConfig(agentConfigSchema, flags);
  const log = createLogger('agent');
  // The data folder is resolved here, at the entry point, from --data or the environment.
  const agent = await startAgent({ ...cfg, data: dataHome(cfg.data, process.env) }, log);
  process.stdout.write(`agent listening on ${agent.url} (token in ${agent.tokenFile})\n`);
  await runUntilSignal(agent, log);
}
