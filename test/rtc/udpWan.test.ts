import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram, { type Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sendChunkedRtc } from '../../bench/chunkedRtc/ChunkedRtc.js';
import { holdsFor, waitFor } from '../support/wait.js';
import { UdpWan } from '../support/wan/udpLink.js';

/** A UDP socket on loopback that keeps what it received, with the sender's port, and echoes it. */
async function udpEcho(): Promise<{ sock: Socket; port: number; got: Array<{ at: number; msg: string; from: number }> }> {
  const sock = dgram.createSocket('udp4');
  const got: Array<{ at: number; msg: string; from: number }> = [];
  sock.on('message', (m, r) => {
    got.push({ at: performance.now(), msg: m.toString(), from: r.port });
    sock.send(m, r.port, r.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { sock, port: sock.address().port, got };
}

async function client(): Promise<{ sock: Socket; got: Array<{ at: number; msg: string; from: number }> }> {
  const sock = dgram.createSocket('udp4');
  const got: Array<{ at: number; msg: string; from: number }> = [];
  sock.on('message', (m, r) => got.push({ at: performance.now(), msg: m.toString(), from: r.port }));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { sock, got };
}

const close = (s: Socket): Promise<void> => new Promise((r) => s.close(() => r()));

describe('the emulated UDP WAN (test/support/wan/udpLink.ts)', () => {
  test('datagrams cross a front both ways, each after half the round trip; replies come from the front', async () => {
    const wan = new UdpWan({ rttMs: 80 });
    const far = await udpEcho();
    const near = await client();
    try {
      const front = await wan.front({ address: '127.0.0.1', port: far.port });
      const sent = performance.now();
      near.sock.send('hello', front.port, front.address);
      await waitFor(() => near.got.length === 1 || undefined, 'the echo back through the front');
      assert.equal(far.got[0]!.msg, 'hello');
      assert.notEqual(far.got[0]!.from, near.sock.address().port, 'the far end sees the relay, not the client');
      assert.ok(far.got[0]!.at - sent >= 38, `one way took ${far.got[0]!.at - sent} ms, less than half of 80 ms`);
      assert.ok(near.got[0]!.at - sent >= 78, `the round trip took ${near.got[0]!.at - sent} ms, less than 80 ms`);
      assert.equal(near.got[0]!.from, front.port, 'the reply comes from the address the client sent to');
      assert.deepEqual([wan.stats.bytesIn, wan.stats.bytesOut], [5, 5]);
    } finally {
      await wan.close();
      await close(far.sock);
      await close(near.sock);
    }
  });

  test('candidates in a candidate line and in an SDP are pointed at fronts; TCP candidates are left alone', async () => {
    const wan = new UdpWan({ rttMs: 0 });
    try {
      const line = 'candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host generation 0';
      const rewritten = await wan.rewrite(line);
      const front = await wan.front({ address: '127.0.0.1', port: 50000 });
      assert.equal(rewritten, `candidate:1 1 udp 2130706431 127.0.0.1 ${front.port} typ host generation 0`);
      const tcp = 'candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active';
      const sdp = `v=0\r\na=${line}\r\na=${tcp}\r\na=end-of-candidates\r\n`;
      assert.equal(await wan.rewrite(sdp), `v=0\r\na=${rewritten}\r\na=${tcp}\r\na=end-of-candidates\r\n`, 'the same front for the same candidate, the TCP line untouched');
    } finally {
      await wan.close();
    }
  });

  test('a drop discards everything for its length; a reset kills the flows it finds, a new source gets through; flows reset after resetEveryMs', async () => {
    const wan = new UdpWan({ rttMs: 0 });
    const far = await udpEcho();
    const a = await client();
    const b = await client();
    try {
      const front = await wan.front({ address: '127.0.0.1', port: far.port });
      wan.drop(300);
      a.sock.send('during', front.port, front.address);
      await holdsFor(() => far.got.length === 0, 'nothing arrives during the drop', 200);
      await waitFor(() => {
        a.sock.send('after', front.port, front.address);
        return a.got.some((g) => g.msg === 'after') || undefined;
      }, 'datagrams flow again once the drop is over', 5000, { intervalMs: 100 });
      assert.ok(!far.got.some((g) => g.msg === 'during'), 'the datagram sent during the drop never arrived');
      assert.ok(wan.stats.outageDrops >= 1);

      wan.reset();
      const before = far.got.length;
      a.sock.send('old flow', front.port, front.address);
      b.sock.send('new flow', front.port, front.address);
      await waitFor(() => b.got.some((g) => g.msg === 'new flow') || undefined, 'a new source gets through after the reset');
      assert.deepEqual(far.got.slice(before).map((g) => g.msg), ['new flow'], 'the old flow stays dead');
      assert.ok(wan.stats.resetDrops >= 1);

      wan.set({ resetEveryMs: 200 });
      const c = await client();
      c.sock.send('young', front.port, front.address);
      await waitFor(() => c.got.length === 1 || undefined, 'a young flow gets through');
      await new Promise((r) => setTimeout(r, 250));
      c.sock.send('old', front.port, front.address);
      await holdsFor(() => c.got.length === 1, 'a flow older than resetEveryMs is reset', 200);
      await close(c.sock);
    } finally {
      await wan.close();
      await close(far.sock);
      await close(a.sock);
      await close(b.sock);
    }
  });

  test('a per-flow cap with tail drop: what exceeds the queue is dropped, not delayed without bound', async () => {
    // 64 KiB/s with a 100 ms queue holds about 6.4 KiB: a burst of 40 datagrams of 1 KiB mostly
    // drops (40, not more: a bigger burst overflows the relay socket's kernel receive buffer).
    const wan = new UdpWan({ rttMs: 0, perFlowBps: 64 * 1024, queueMs: 100 });
    const far = await udpEcho();
    const near = await client();
    try {
      const front = await wan.front({ address: '127.0.0.1', port: far.port });
      const kib = Buffer.alloc(1024, 1);
      for (let i = 0; i < 40; i++) near.sock.send(kib, front.port, front.address);
      await waitFor(() => wan.stats.queueDrops + far.got.length >= 40 || undefined, 'every datagram delivered or dropped', 10_000);
      assert.ok(wan.stats.queueDrops >= 25, `${wan.stats.queueDrops} of 40 dropped`);
      assert.ok(far.got.length >= 5, `${far.got.length} of 40 delivered`);
    } finally {
      await wan.close();
      await close(far.sock);
      await close(near.sock);
    }
  });
});

describe("chunked-rtc, the seed's baseline (bench/chunkedRtc), real werift peers in two processes through the UDP WAN", () => {
  let dir: string;
  let file: string;
  const size = 3 * 1024 * 1024 + 123;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chunked-rtc-'));
    file = join(dir, 'data.bin');
    await writeFile(file, randomBytes(size));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('a file arrives whole in one attempt, every datagram through the WAN', async () => {
    const wan = new UdpWan({ rttMs: 10 });
    try {
      const r = await sendChunkedRtc({ file, size, wan, timeLimitMs: 60_000 });
      assert.equal(r.ok, true, r.reason);
      assert.equal(r.attempts, 1);
      assert.equal(r.payloadBytes, size);
      // Toward a fronted peer: the data to the receiver's front (and the acks to the sender's).
      assert.ok(wan.stats.bytesIn > size, `only ${wan.stats.bytesIn} bytes crossed the WAN toward the peers for ${size}`);
    } finally {
      await wan.close();
    }
  });

  test('a drop longer than the heartbeat allows kills the link: the next attempt starts over from the first byte and completes', async () => {
    const wan = new UdpWan({ rttMs: 0, perFlowBps: 1024 * 1024 });
    let dropped = false;
    try {
      const r = await sendChunkedRtc({
        file,
        size,
        wan,
        timeLimitMs: 90_000,
        deadAfterMs: 1000,
        onProgress: (bytes, attempt) => {
          if (attempt === 1 && !dropped && bytes >= size / 3) {
            dropped = true;
            wan.drop(2500);
          }
        },
      });
      assert.equal(dropped, true, 'the drop happened');
      assert.equal(r.ok, true, r.reason);
      assert.ok(r.attempts >= 2, `${r.attempts} attempt(s)`);
      assert.ok(r.payloadBytes >= size + size / 3, `payload sent ${r.payloadBytes}: the first attempt's bytes were sent again`);
    } finally {
      await wan.close();
    }
  });
});
