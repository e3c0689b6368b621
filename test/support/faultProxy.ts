// A userspace HTTP fault proxy on loopback, in front of an S3 endpoint (docs/facts.md §7: no
// netem here, so faults are emulated in userspace). It forwards requests unchanged (the Host
// header too, so presigned signatures made for the proxy's address stay valid) and, for requests
// matching a rule, injects one fault: reset the connection mid-body, stall (stop forwarding),
// answer an S3 error without forwarding, or flip one byte of a body. It counts every body byte.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pacer } from './wan/pacer.js';

export type FaultAction =
  /** Destroy both connections once `afterBytes` bytes of the body went through. */
  | { kind: 'reset'; afterBytes: number }
  /** Stop forwarding the body after `afterBytes` bytes; hold until the client gives up. */
  | { kind: 'stall'; afterBytes: number }
  /** Answer with this S3 error (after reading the request body), without forwarding. */
  | { kind: 'status'; status: number; code: string; message?: string }
  /** Flip the byte at this offset of the body. */
  | { kind: 'corrupt'; atByte: number }
  /** Hold the request this long before forwarding it (a slow path: a presigned URL can expire on the way). */
  | { kind: 'delay'; ms: number };

export interface FaultRuleInput {
  method?: string;
  /** Matches `partNumber=N` in the query. */
  partNumber?: number;
  /** Matches when the path and query contain this text. */
  pathIncludes?: string;
  /** The request body (PUT) or the answer body (GET). Default: request for PUT/POST, response otherwise. */
  on?: 'request' | 'response';
  /** The fault, or a function choosing one for each request the rule applies to. */
  action: FaultAction | (() => FaultAction);
  /** Requests the rule applies to before it retires. Default 1 (Infinity: never retires). */
  times?: number;
  /**
   * Applies to each matching request with this probability (default 1: the next ones). Faults
   * that arrive with the traffic, as on a real flaky path: a queue of one-shot rules instead
   * lands on whatever request comes next, which under retries is the part being retried.
   */
  chance?: number;
  /** The draw for `chance` (default Math.random; pass a seeded one for a repeatable run). */
  random?: () => number;
}

export interface FaultRule extends FaultRuleInput {
  /** Requests it has applied to so far. */
  hits: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  partNumber?: number;
  status?: number;
  fault?: FaultAction['kind'];
  requestBytes: number;
  responseBytes: number;
  /** The client's request is still open: more of its body may arrive (false once it ended or was cut). */
  open: boolean;
  /** X-Amz-Date of a presigned URL: tells re-signed URLs apart. */
  amzDate?: string;
}

export interface FaultProxy {
  url: string;
  port: number;
  add(rule: FaultRuleInput): FaultRule;
  clearRules(): void;
  /** Caps body bytes per second through the proxy, both directions together (undefined: no cap). */
  setRate(bytesPerSecond: number | undefined): void;
  /** Every request seen, in arrival order (bytes updated as they flow). */
  readonly requests: ProxiedRequest[];
  /** Body bytes received from clients (PUT bodies, resends included), by method. */
  requestBytes(method?: string): number;
  /** Body bytes sent to clients (GET bodies), by method. */
  responseBytes(method?: string): number;
  resetStats(): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>faultproxy</RequestId></Error>`;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let rules: FaultRule[] = [];
  // One rate over all bodies, with the WAN link's pacer (no burst credit: the cap holds from the first byte).
  let pacer = new Pacer(undefined, 0);
  /** How long the sender of `n` more bytes must wait. */
  const throttle = (n: number): number => {
    const now = Date.now();
    return Math.max(0, pacer.book(now, n) - now);
  };
  let requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();

  const pick = (req: IncomingMessage, u: URL): { rule: FaultRule; action: FaultAction } | undefined => {
    const rule = rules.find(
      (r) =>
        r.hits < (r.times ?? 1) &&
        (r.method === undefined || r.method === req.method) &&
        (r.partNumber === undefined || u.searchParams.get('partNumber') === String(r.partNumber)) &&
        (r.pathIncludes === undefined || (u.pathname + u.search).includes(r.pathIncludes)) &&
        (r.chance === undefined || (r.random ?? Math.random)() < r.chance),
    );
    if (!rule) return undefined;
    rule.hits++;
    return { rule, action: typeof rule.action === 'function' ? rule.action() : rule.action };
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const u = new URL(req.url ?? '/', 'http://proxy');
    const pn = u.searchParams.get('partNumber');
    const rec: ProxiedRequest = { method: req.method ?? 'GET', path: u.pathname, requestBytes: 0, responseBytes: 0, open: true, ...(pn ? { partNumber: Number(pn) } : {}), ...(u.searchParams.get('X-Amz-Date') ? { amzDate: u.searchParams.get('X-Amz-Date')! } : {}) };
    requests.push(rec);
    req.once('close', () => (rec.open = false));
    const picked = pick(req, u);
    const rule = picked?.rule;
    const action = picked?.action;
    const onRequestBody = rule ? (rule.on ?? (req.method === 'PUT' || req.method === 'POST' ? 'request' : 'response')) === 'request' : false;
    if (action) rec.fault = action.kind;
    const kill = (): void => {
      req.socket.destroy();
      upReq?.destroy();
    };

    if (action?.kind === 'status') {
      req.on('data', (c: Buffer) => (rec.requestBytes += c.length));
      req.on('end', () => {
        rec.status = action.status;
        const body = s3ErrorXml(action.code, action.message ?? '');
        res.writeHead(action.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }

    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    let upReq: http.ClientRequest | undefined;
    const forward = (): void => {
      const ur = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers, agent }, (ures) => {
        rec.status = ures.statusCode;
        const outHeaders: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(ures.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) outHeaders[k] = v;
        res.writeHead(ures.statusCode ?? 502, outHeaders);
        let sent = 0;
        ures.on('data', (chunk: Buffer) => {
          if (action && !onRequestBody) {
            if (action.kind === 'reset' && sent + chunk.length >= action.afterBytes) {
              const head = chunk.subarray(0, Math.max(0, action.afterBytes - sent));
              res.write(head);
              rec.responseBytes += head.length;
              ures.removeAllListeners('data');
              return void setImmediate(kill);
            }
            if (action.kind === 'stall' && sent + chunk.length >= action.afterBytes) {
              const head = chunk.subarray(0, Math.max(0, action.afterBytes - sent));
              if (head.length) res.write(head);
              rec.responseBytes += head.length;
              ures.pause();
              ures.removeAllListeners('data');
              return;
            }
            if (action.kind === 'corrupt' && action.atByte >= sent && action.atByte < sent + chunk.length) {
              chunk = Buffer.from(chunk);
              chunk[action.atByte - sent] ^= 0xff;
            }
          }
          sent += chunk.length;
          rec.responseBytes += chunk.length;
          const wait = throttle(chunk.length);
          const ok = res.write(chunk);
          if (!ok || wait > 0) {
            ures.pause();
            let drained = ok;
            let waited = wait === 0;
            const go = (): void => void (drained && waited && ures.resume());
            if (!ok) res.once('drain', () => ((drained = true), go()));
            if (wait > 0) setTimeout(() => ((waited = true), go()), wait);
          }
        });
        ures.on('end', () => res.end());
        ures.on('error', () => res.destroy());
      });
      upReq = ur;
      ur.on('error', () => {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end('upstream failed');
        } else res.destroy();
      });

      let received = 0;
      req.on('data', (chunk: Buffer) => {
        if (action && onRequestBody) {
          if (action.kind === 'reset' && received + chunk.length >= action.afterBytes) {
            rec.requestBytes += chunk.length;
            req.removeAllListeners('data');
            return kill();
          }
          if (action.kind === 'stall' && received + chunk.length >= action.afterBytes) {
            rec.requestBytes += chunk.length;
            req.removeAllListeners('data');
            req.pause();
            return;
          }
          if (action.kind === 'corrupt' && action.atByte >= received && action.atByte < received + chunk.length) {
            chunk = Buffer.from(chunk);
            chunk[action.atByte - received] ^= 0xff;
          }
        }
        received += chunk.length;
        rec.requestBytes += chunk.length;
        const wait = throttle(chunk.length);
        const ok = ur.write(chunk);
        if (!ok || wait > 0) {
          req.pause();
          let drained = ok;
          let waited = wait === 0;
          const go = (): void => void (drained && waited && req.resume());
          if (!ok) ur.once('drain', () => ((drained = true), go()));
          if (wait > 0) setTimeout(() => ((waited = true), go()), wait);
        }
      });
      req.on('end', () => ur.end());
      req.on('error', () => ur.destroy());
      req.resume();
    };
    res.on('close', () => {
      if (!res.writableFinished) upReq?.destroy();
    });
    if (action?.kind === 'delay') {
      req.pause();
      const timer = setTimeout(forward, action.ms);
      res.on('close', () => clearTimeout(timer));
    } else forward();
  };

  const server = http.createServer(handle);
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const sum = (f: (r: ProxiedRequest) => number, method?: string): number => requests.filter((r) => method === undefined || r.method === method).reduce((n, r) => n + f(r), 0);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    add(input) {
      const rule: FaultRule = { ...input, hits: 0 };
      rules.push(rule);
      return rule;
    },
    clearRules() {
      rules = [];
    },
    setRate(bps) {
      pacer = new Pacer(bps, 0);
    },
    get requests() {
      return requests;
    },
    requestBytes: (method) => sum((r) => r.requestBytes, method),
    responseBytes: (method) => sum((r) => r.responseBytes, method),
    resetStats() {
      requests = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
