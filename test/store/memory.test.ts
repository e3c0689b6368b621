import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { clientFor, MiB, newBucket } from './helpers.js';

const PARTS = 8;
const PART_SIZE = 64 * MiB;
const RSS_LIMIT = 150 * MiB;

function vm(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no ${field} for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** `size` bytes made of a 1 MiB random block, varied per MiB so every part and MiB differs. */
function partBody(seed: Buffer, size: number, md5: ReturnType<typeof createHash>): Readable {
  let sent = 0;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (sent >= size) return void this.push(null);
      const chunk = Buffer.from(seed.subarray(0, Math.min(MiB, size - sent)));
      chunk.writeUInt32BE(sent / MiB, 0);
      sent += chunk.length;
      md5.update(chunk);
      this.push(chunk);
    },
  });
}

function putStream(url: string, body: Readable, length: number): Promise<{ status: number; etag?: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-length': length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag, text }));
    });
    req.on('error', reject);
    body.pipe(req);
  });
}

describe('store: memory stays flat while big parts stream in', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  before(async () => {
    // The built bundle, as users run it (and as `npm run bench -- store` measures it): the
    // source run under tsx carries the TypeScript loader's own ~25 MiB.
    t = await startEmbeddedStore({ built: true });
    s3 = clientFor(t);
  });
  after(async () => {
    s3?.destroy();
    await t?.stop();
  });

  test(`${PARTS} concurrent ${PART_SIZE / MiB} MiB parts: store peak RSS (VmHWM) < ${RSS_LIMIT / MiB} MiB`, { timeout: 120_000 }, async (ctx) => {
    const bucket = await newBucket(s3, 'mem');
    const Key = 'big/object.bin';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const baseline = vm(t.pid, 'VmRSS');
    const urls = await Promise.all(Array.from({ length: PARTS }, (_, i) => getSignedUrl(s3, new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: i + 1 }), { expiresIn: 600 })));
    const md5s = urls.map(() => createHash('md5'));
    const started = performance.now();
    const results = await Promise.all(urls.map((url, i) => putStream(url, partBody(randomBytes(MiB), PART_SIZE, md5s[i]), PART_SIZE)));
    const seconds = (performance.now() - started) / 1000;
    const peak = vm(t.pid, 'VmHWM');
    const mibps = (PARTS * PART_SIZE) / MiB / seconds;
    ctx.diagnostic(`${PARTS} x ${PART_SIZE / MiB} MiB in ${seconds.toFixed(2)} s = ${mibps.toFixed(0)} MiB/s; store RSS baseline ${(baseline / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`);
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.etag, `"${md5s[i].digest('hex')}"`, `part ${i + 1} ETag`);
    }
    assert.ok(peak < RSS_LIMIT, `store peak RSS ${(peak / MiB).toFixed(1)} MiB >= ${RSS_LIMIT / MiB} MiB`);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: results.map((r, i) => ({ PartNumber: i + 1, ETag: r.etag })) } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key }));
    assert.equal(head.ContentLength, PARTS * PART_SIZE);
    assert.match(head.ETag ?? '', new RegExp(`-${PARTS}"$`));
  });
});
