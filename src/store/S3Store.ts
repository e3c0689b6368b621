import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { listenOn } from '../core/listen.js';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../core/log.js';
import type { Ctx, StoreDeps } from './context.js';
import { DiskBackend } from './DiskBackend.js';
import { Multipart } from './Multipart.js';
import { effectiveHeaders, parseTarget, validateBucketName, type RequestTarget } from './request.js';
import { route } from './router.js';
import { S3Error } from './S3Error.js';
import { SigV4Verifier } from './sigv4.js';
import { errorDocument } from './xml.js';
import { hashWriterPool } from './HashWriterPool.js';

const KEEP_ALIVE_MS = 65_000;

/** Stores open in this process: the last one closed ends the shared hash writer threads. */
let openStores = 0;

export interface S3StoreOptions {
  dataDir: string;
  host: string;
  port: number;
  region: string;
  /** access key id -> secret */
  credentials: ReadonlyMap<string, string>;
  /** Buckets to create at start (kept when they exist). */
  buckets?: string[];
  log: Logger;
}

/** Bodies still arriving after an error are read and dropped up to this size, then the connection closes. */
const DRAIN_LIMIT = 16 * 1024 * 1024;
const DRAIN_MS = 2000;

interface SocketState {
  active: number;
  /** The request being answered, if any. */
  req?: IncomingMessage;
  res?: ServerResponse;
  /** A 400 for a broken follow-up request, sent once the current response is out. */
  pending?: Buffer;
}

/**
 * The embedded S3 server: node:http, streaming bodies, one handler per operation (router.ts).
 * close() stops accepting, aborts in-flight requests (their temp files are removed) and waits
 * for the handlers to finish.
 */
export class S3Store {
  private readonly server: Server;
  private readonly inflight = new Map<AbortController, Promise<void>>();
  private readonly sockets = new WeakMap<Socket, SocketState>();
  private readonly verifier: SigV4Verifier;
  private readonly deps: StoreDeps;
  private closing: Promise<void> | undefined;
  port = 0;

  private constructor(private readonly opts: S3StoreOptions, disk: DiskBackend, mp: Multipart) {
    this.verifier = new SigV4Verifier(opts.credentials, opts.region);
    this.deps = { disk, mp, region: opts.region, log: opts.log };
    // Idle keep-alive connections close after 65 s, not node's 5 s. A client that never times
    // idle sockets out itself (node 20's agent ignores the Keep-Alive hint unless given a timeout,
    // so the AWS SDK's never does) gets "socket hang up" when it reuses a socket just as the
    // server closes it; the longer the timeout, the rarer an idle gap that ends right on it.
    this.server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: KEEP_ALIVE_MS }, (req, res) => this.track(req, res, false));
    this.server.on('checkContinue', (req, res) => this.track(req, res, true));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    // A connection that sends nothing for 5 minutes (a stalled upload) is closed.
    this.server.timeout = 300_000;
  }

  static async start(opts: S3StoreOptions): Promise<S3Store> {
    const disk = new DiskBackend(opts.dataDir, opts.log);
    await disk.open();
    const mp = new Multipart(disk, opts.log);
    await mp.open();
    for (const b of opts.buckets ?? []) {
      validateBucketName(b);
      if (await disk.createBucket(b)) opts.log.info('bucket created', { bucket: b });
    }
    const store = new S3Store(opts, disk, mp);
    await listenOn(store.server, opts.port, opts.host, 'store');
    openStores++;
    store.port = (store.server.address() as AddressInfo).port;
    return store;
  }

  get url(): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `http://${host}:${this.port}`;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      for (const ac of this.inflight.keys()) ac.abort();
      await Promise.allSettled(this.inflight.values());
      this.server.closeAllConnections();
      await closed;
      // No request of this store is running now; none of another store either when it is the last.
      if (--openStores === 0) await hashWriterPool.close();
    })();
    return this.closing;
  }

  private socketState(socket: Socket): SocketState {
    let s = this.sockets.get(socket);
    if (!s) {
      s = { active: 0 };
      this.sockets.set(socket, s);
    }
    return s;
  }

  private track(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const ac = new AbortController();
    const socket = req.socket;
    const st = this.socketState(socket);
    st.active++;
    st.req = req;
    st.res = res;
    res.once('close', () => {
      st.active--;
      if (st.req === req) st.req = st.res = undefined;
      if (st.active === 0 && st.pending) {
        socket.end(st.pending);
        setTimeout(() => socket.destroy(), 5000).unref();
      }
    });
    const started = performance.now();
    // The query is never logged: presigned URLs carry their signature there.
    res.once('finish', () => this.opts.log.debug('request', { method: req.method, path: req.url?.split('?')[0], status: res.statusCode, ms: Math.round(performance.now() - started) }));
    const done = this.handle(req, res, expectContinue, ac).finally(() => this.inflight.delete(ac));
    this.inflight.set(ac, done);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean, ac: AbortController): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    res.setHeader('server', 'SleapRtcStore');
    let continued = !expectContinue;
    let t: RequestTarget | undefined;
    try {
      if (this.closing) throw new S3Error('ServiceUnavailable', 'The store is shutting down; retry against its next run.');
      t = parseTarget(req.url ?? '/');
      const auth = await this.verifier.verify({ method: req.method ?? 'GET', rawPath: t.rawPath, query: t.query, headers: req.headersDistinct });
      const ctx: Ctx = {
        req,
        res,
        requestId,
        t,
        h: effectiveHeaders(req, t, auth.presigned),
        auth,
        signal: ac.signal,
        deps: this.deps,
        startBody: () => {
          if (!continued) {
            continued = true;
            res.writeContinue();
          }
        },
      };
      await route(ctx)(ctx);
    } catch (e) {
      await this.respondError(req, res, e, requestId, t, continued, ac.signal);
    }
  }

  private async respondError(req: IncomingMessage, res: ServerResponse, e: unknown, requestId: string, t: RequestTarget | undefined, continued: boolean, signal: AbortSignal): Promise<void> {
    let err: S3Error;
    const full = diskFullCode(e);
    if (e instanceof S3Error) err = e;
    else if (full) {
      this.opts.log.warn('the data folder is full: request refused', { method: req.method, requestId, error: full });
      err = new S3Error('InsufficientStorage', `The store's disk is full (${full}); nothing of this request was stored. Free space in the store's data folder, then send it again.`, { cause: e });
    } else {
      this.opts.log.error('request failed', { method: req.method, requestId, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      err = new S3Error('InternalError', 'We encountered an internal error. Please try again.', { cause: e });
    }
    if (err.status >= 500 && err.s3Code !== 'NotImplemented' && e instanceof S3Error) this.opts.log.warn('request failed', { method: req.method, requestId, code: err.s3Code, message: err.message });
    else this.opts.log.debug('request refused', { method: req.method, requestId, code: err.s3Code });
    if (res.headersSent || res.writableEnded || req.socket.destroyed) {
      res.destroy();
      return;
    }
    // A client still sending its body reads no response until it is done: drop the rest of a
    // modest body so the error reaches it on a healthy connection; otherwise close.
    let close = false;
    if (!req.complete) {
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (!continued || signal.aborted || !(declared <= DRAIN_LIMIT)) close = true;
      else {
        req.resume();
        await Promise.race([once(req, 'end').catch(() => undefined), once(req, 'close'), sleep(DRAIN_MS)]);
        close = !req.complete;
      }
    }
    if (req.socket.destroyed) return;
    const headers: Record<string, string | number> = { 'x-amz-request-id': requestId };
    if (close) headers.connection = 'close';
    if (req.method === 'HEAD') {
      res.writeHead(err.status, headers);
      res.end();
      return;
    }
    const body = errorDocument(err.s3Code, err.message, t?.rawPath ?? '/', requestId, err.extra);
    res.writeHead(err.status, { ...headers, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /**
   * Bytes that are not HTTP: after a body longer than its Content-Length, a broken request
   * line, or a peer gone mid-request. The request being answered keeps its response when its
   * body is complete; the 400 follows it and the connection closes.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const st = this.sockets.get(socket);
    const gone = err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'HPE_INVALID_EOF_STATE';
    if (gone || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const body = errorDocument(status === 400 ? 'BadRequest' : status === 408 ? 'RequestTimeout' : 'RequestHeaderSectionTooLarge', `The request could not be parsed as HTTP (${err.code ?? err.message}).`, '', requestId);
    const raw = Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-amz-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`);
    this.opts.log.debug('unparsable request', { code: err.code });
    if (st && st.active > 0 && st.req?.complete) {
      st.pending = raw;
      return;
    }
    // Nothing is being answered, or the broken bytes are the current request's own body.
    if (!st?.res?.headersSent) socket.end(raw);
    else socket.destroy();
    setTimeout(() => socket.destroy(), 5000).unref();
  }
}

/** ENOSPC or EDQUOT anywhere in an error's cause chain (a write into the data folder failed for space). */
function diskFullCode(e: unknown): string | undefined {
  for (let x: unknown = e, depth = 0; x && depth < 5; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return code;
  }
  return undefined;
}
