import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startWan } from '../support/wan/wanLink.js';
import { holdsFor, waitFor } from '../support/wait.js';

/** A TCP server that keeps what each connection sent (the emulated link's far end), and echoes it. */
async function sink(): Promise<{ url: string; received: Buffer[][]; close(): Promise<void> }> {
  const received: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const srv = net.createServer((s) => {
    const mine: Buffer[] = [];
    received.push(mine);
    sockets.add(s);
    s.on('data', (b: Buffer) => {
      mine.push(b);
      s.write(b);
    });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), srv.close(() => r()))),
  };
}

const connect = (port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
const total = (bufs: Buffer[]): number => bufs.reduce((n, b) => n + b.length, 0);
const sha = (bufs: Buffer[]): string => createHash('sha256').update(Buffer.concat(bufs)).digest('hex');

describe('the emulated WAN (test/support/wan)', () => {
  let far: Awaited<ReturnType<typeof sink>>;
  before(async () => {
    far = await sink();
  });
  after(async () => far.close());

  test('bytes cross capped, delayed connections intact and in order, both ways', async () => {
    const wan = startWan({ rttMs: 20, perConnectionBps: 16 * 1024 * 1024, aggregateBps: 24 * 1024 * 1024 });
    try {
      const port = (await wan.forward(far.url)).port;
      const payloads = [randomBytes(3 * 1024 * 1024 + 17), randomBytes(2 * 1024 * 1024 + 5)];
      const echoes = await Promise.all(
        payloads.map(async (p) => {
          const s = await connect(port);
          const back: Buffer[] = [];
          s.on('data', (b: Buffer) => back.push(b));
          s.write(p);
          await waitFor(() => total(back) >= p.length, 'the echo of every byte', 30_000);
          s.destroy();
          return back;
        }),
      );
      for (const [i, p] of payloads.entries()) assert.equal(sha(echoes[i]), sha([p]), `connection ${i}: echoed bytes equal the sent ones, in order`);
      const upstream = far.received.slice(-2).map(sha).sort();
      assert.deepEqual(upstream, payloads.map((p) => sha([p])).sort(), 'the far end received each payload intact');
      assert.equal(wan.stats.opened, 2);
      assert.equal(wan.stats.bytesUp, payloads[0].length + payloads[1].length);
    } finally {
      await wan.close();
    }
  });

  test('nothing reaches the far end before the handshake round trip and the one-way delay have passed', async () => {
    // 1 s RTT: the first byte is due 1.5 s after connect; the watch below ends at 0.5 s.
    const wan = startWan({ rttMs: 1000 });
    try {
      const port = (await wan.forward(far.url)).port;
      const before = far.received.length;
      const s = await connect(port);
      s.write('hello');
      const got = (): number => (far.received.length > before ? total(far.received[far.received.length - 1]) : 0);
      await holdsFor(() => got() === 0, 'nothing arrived at the far end', 500, { intervalMs: 10 });
      await waitFor(() => got() === 5, 'the bytes arriving once the delay passed', 10_000, { intervalMs: 10 });
      s.destroy();
    } finally {
      await wan.close();
    }
  });

  test('a connection is reset after N bytes; the next one works', async () => {
    const wan = startWan({ rttMs: 0, resetAfterBytes: 256 * 1024 });
    try {
      const port = (await wan.forward(far.url)).port;
      const s = await connect(port);
      const closed = new Promise<string>((resolve) => {
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        s.on('close', () => resolve('closed'));
      });
      s.write(randomBytes(4 * 1024 * 1024));
      assert.match(await closed, /ECONNRESET|EPIPE|closed/);
      await waitFor(() => wan.stats.resets === 1 && wan.stats.open === 0, 'the reset counted and the connection gone');
      const next = await connect(port);
      const back: Buffer[] = [];
      next.on('data', (b: Buffer) => back.push(b));
      next.write('again');
      await waitFor(() => Buffer.concat(back).toString() === 'again', 'an echo through a new connection');
      next.destroy();
    } finally {
      await wan.close();
    }
  });

  test('a link drop holds new connections until it ends; a drop with reset refuses them', async () => {
    const wan = startWan({ rttMs: 0 });
    try {
      const port = (await wan.forward(far.url)).port;
      const before = far.received.length;
      wan.drop(1500);
      const s = await connect(port);
      s.write('held');
      await holdsFor(() => far.received.length === before, 'no connection reached the far end while the link was down', 700, { intervalMs: 10 });
      await waitFor(() => far.received.length === before + 1 && total(far.received[before]) === 4, 'the held connection going through once the link was back', 10_000, { intervalMs: 10 });
      s.destroy();

      wan.drop(60_000, 'reset');
      const r = await connect(port).then(
        (sock) =>
          new Promise<string>((resolve) => {
            sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
            sock.on('close', () => resolve('closed'));
          }),
        (e: NodeJS.ErrnoException) => e.code ?? e.message,
      );
      assert.match(r, /ECONNRESET|closed/);
      assert.ok(wan.stats.resets >= 1);
    } finally {
      await wan.close();
    }
  });

  test('a stall stops every connection; bytes move again after it', async () => {
    const wan = startWan({ rttMs: 0 });
    try {
      const port = (await wan.forward(far.url)).port;
      const s = await connect(port);
      const back: Buffer[] = [];
      s.on('data', (b: Buffer) => back.push(b));
      s.write('one');
      await waitFor(() => total(back) === 3, 'the first echo');
      wan.stall(1500);
      s.write('two');
      await holdsFor(() => total(back) === 3, 'nothing echoed during the stall', 700, { intervalMs: 10 });
      await waitFor(() => total(back) === 6, 'the echo after the stall', 10_000);
      s.destroy();
    } finally {
      await wan.close();
    }
  });
});
