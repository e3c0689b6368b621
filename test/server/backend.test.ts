import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { forEachS3Target, type S3Target } from '../support/targets.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';

const MiB = 1024 * 1024;

async function putPart(url: string, body: Buffer): Promise<string> {
  const res = await fetch(url, { method: 'PUT', body: body as Uint8Array<ArrayBuffer> });
  assert.equal(res.status, 200, `part PUT answered ${res.status}: ${await res.text()}`);
  const etag = res.headers.get('etag');
  assert.ok(etag, 'part PUT returned no ETag');
  return etag;
}

forEachS3Target((factory) => {
  describe(`backend against ${factory.name}`, () => {
    let target: S3Target;
    let srv: ServerProcess;

    before(async () => {
      target = await factory.start();
      srv = await startServerProcess(target);
    });
    after(async () => {
      await srv?.stop();
      await target?.stop();
    });

    test('a three-part upload: request, PUT parts by presigned URL, status, complete, download', async () => {
      const data = randomBytes(12 * MiB);
      const sha256 = createHash('sha256').update(data).digest('hex');
      const req = await srv.api('/api/request-upload', { body: { file_name: 'mice.pkg.slp', file_size: data.length, part_size: 5 * MiB, sha256 } });
      assert.equal(req.status, 200, JSON.stringify(req.body));
      assert.equal(req.body.part_count, 3);
      assert.equal(req.body.part_size, 5 * MiB);
      assert.match(req.body.key, new RegExp(`^rooms/lab/datasets/${req.body.prefix_id}/mice\\.pkg\\.slp$`));
      assert.equal(req.body.s3_path, `s3://${srv.bucket}/${req.body.key}`);
      assert.equal(req.body.urls.length, 3);

      const etags: string[] = [];
      for (const u of req.body.urls) etags.push(await putPart(u.url, data.subarray((u.part_number - 1) * 5 * MiB, u.part_number * 5 * MiB)));

      const status = await srv.api(`/api/upload-status?key=${encodeURIComponent(req.body.key)}&upload_id=${encodeURIComponent(req.body.upload_id)}`);
      assert.equal(status.status, 200, JSON.stringify(status.body));
      assert.deepEqual(status.body.parts.map((p: { part_number: number; size: number }) => [p.part_number, p.size]), [[1, 5 * MiB], [2, 5 * MiB], [3, 2 * MiB]]);

      const done = await srv.api('/api/complete-upload', { body: { key: req.body.key, upload_id: req.body.upload_id, parts: etags.map((etag, i) => ({ part_number: i + 1, etag })) } });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.size, data.length);
      assert.equal(done.body.sha256, sha256);
      assert.match(done.body.etag, /-3"?$/);

      const dl = await srv.api('/api/request-download', { body: { key: done.body.s3_path } });
      assert.equal(dl.status, 200, JSON.stringify(dl.body));
      assert.equal(dl.body.size, data.length);
      const got = Buffer.from(await (await fetch(dl.body.url)).arrayBuffer());
      assert.equal(createHash('sha256').update(got).digest('hex'), sha256);
    });

    test('part_checksums are signed into the part URLs as x-amz-checksum-crc32: the header is then required, and checked where the server checks it', async () => {
      const data = randomBytes(10 * MiB);
      const part = (n: number): Buffer => data.subarray((n - 1) * 5 * MiB, n * 5 * MiB);
      const b64 = (b: Buffer): string => {
        const out = Buffer.alloc(4);
        out.writeUInt32BE(crc32(b));
        return out.toString('base64');
      };
      const req = await srv.api('/api/request-upload', {
        body: { file_name: 'signed.bin', file_size: data.length, part_size: 5 * MiB, part_checksums: [{ part_number: 1, algorithm: 'crc32', value: b64(part(1)) }] },
      });
      assert.equal(req.status, 200, JSON.stringify(req.body));
      assert.equal(req.body.urls[0].checksum, 'crc32', 'part 1 was signed with its CRC32');
      assert.equal(req.body.urls[1].checksum, undefined, 'part 2 had no checksum to sign');
      assert.match(decodeURIComponent(req.body.urls[0].url), /X-Amz-SignedHeaders=[^&]*x-amz-checksum-crc32/);
      const put = (url: string, body: Buffer, headers: Record<string, string>): Promise<Response> => fetch(url, { method: 'PUT', body: body as Uint8Array<ArrayBuffer>, headers });

      // Without the signed header the signature does not match.
      const missing = await put(req.body.urls[0].url, part(1), {});
      assert.equal(missing.status, 403, await missing.text());
      // A wrong value: the embedded store refuses it (BadDigest); Ceph RGW 16 ignores it.
      const fresh = await srv.api('/api/upload-urls', { body: { key: req.body.key, upload_id: req.body.upload_id, part_numbers: [2], part_checksums: [{ part_number: 2, algorithm: 'crc32', value: b64(part(1)) }] } });
      assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
      assert.equal(fresh.body.urls[0].checksum, 'crc32');
      const wrong = await put(fresh.body.urls[0].url, part(2), { 'x-amz-checksum-crc32': b64(part(1)) });
      if (target.name === 'rgw') assert.equal(wrong.status, 200, 'RGW 16 ignores x-amz-checksum-*');
      else assert.match(`${wrong.status} ${await wrong.text()}`, /^400 [^]*BadDigest/);

      const ok = await put(req.body.urls[0].url, part(1), { 'x-amz-checksum-crc32': b64(part(1)) });
      assert.equal(ok.status, 200, await ok.text());
      if (target.name !== 'rgw') assert.equal(ok.headers.get('x-amz-checksum-crc32'), b64(part(1)), 'a server that checked it echoes it');
      const bad = await srv.api('/api/upload-urls', { body: { key: req.body.key, upload_id: req.body.upload_id, part_numbers: [2], part_checksums: [{ part_number: 2, algorithm: 'crc32', value: 'nope' }] } });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /part_checksums/);
      assert.equal((await srv.api('/api/abort-upload', { body: { key: req.body.key, upload_id: req.body.upload_id } })).status, 200);
    });

    test('upload-status lists every part past the first 1,000 (ListParts pages)', async () => {
      const req = await srv.api('/api/request-upload', { body: { file_name: 'many.bin', file_size: 1005 * 5 * MiB, part_size: 5 * MiB, url_count: 0 } });
      assert.equal(req.status, 200, JSON.stringify(req.body));
      assert.equal(req.body.part_count, 1005);
      assert.equal(req.body.urls.length, 0);
      const numbers = Array.from({ length: 1005 }, (_, i) => i + 1);
      const urls = await srv.api('/api/upload-urls', { body: { key: req.body.key, upload_id: req.body.upload_id, part_numbers: numbers } });
      assert.equal(urls.status, 200, JSON.stringify(urls.body));
      assert.equal(urls.body.urls.length, 1005);
      // Tiny parts are accepted until Complete; enough to exercise ListParts paging.
      const queue = [...urls.body.urls];
      await Promise.all(Array.from({ length: 16 }, async () => {
        for (let u = queue.shift(); u; u = queue.shift()) await putPart(u.url, Buffer.from([u.part_number % 256]));
      }));
      const status = await srv.api(`/api/upload-status?key=${encodeURIComponent(req.body.key)}&upload_id=${encodeURIComponent(req.body.upload_id)}`);
      assert.equal(status.status, 200, JSON.stringify(status.body).slice(0, 500));
      assert.deepEqual(status.body.parts.map((p: { part_number: number }) => p.part_number), numbers);
      const abort = await srv.api('/api/abort-upload', { body: { key: req.body.key, upload_id: req.body.upload_id } });
      assert.equal(abort.status, 200);
      const gone = await srv.api(`/api/upload-status?key=${encodeURIComponent(req.body.key)}&upload_id=${encodeURIComponent(req.body.upload_id)}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error.code, 'upload_not_found');
    });

    test('the part size is raised so a huge file needs at most 10,000 parts', async () => {
      const size = 200 * 1024 * MiB;
      const req = await srv.api('/api/request-upload', { body: { file_name: 'huge.zip', file_size: size, part_size: 5 * MiB, url_count: 2 } });
      assert.equal(req.status, 200, JSON.stringify(req.body));
      assert.ok(req.body.part_count <= 10_000 && req.body.part_size * req.body.part_count >= size, JSON.stringify(req.body).slice(0, 300));
      assert.equal(req.body.urls.length, 2);
      await srv.api('/api/abort-upload', { body: { key: req.body.key, upload_id: req.body.upload_id } });
    });

    test('rooms are scoped: no token, a wrong token and another room\'s token are refused', async () => {
      const req = await srv.api('/api/request-upload', { body: { file_name: 'a.slp', file_size: 10 } });
      assert.equal(req.status, 200);
      const q = `/api/upload-status?key=${encodeURIComponent(req.body.key)}&upload_id=${encodeURIComponent(req.body.upload_id)}`;
      const none = await srv.api(q, { room: null });
      assert.equal(none.status, 401);
      assert.match(none.body.error.message, /Bearer/);
      assert.equal((await srv.api(q, { token: 'x'.repeat(32) })).status, 401);
      const other = await srv.api(q, { room: 'other' });
      assert.equal(other.status, 403);
      assert.match(other.body.error.message, /outside your room/);
      const otherComplete = await srv.api('/api/complete-upload', { room: 'other', body: { key: req.body.key, upload_id: req.body.upload_id, parts: [{ part_number: 1, etag: '"x"' }] } });
      assert.equal(otherComplete.status, 403);
      const sneaky = await srv.api('/api/request-download', { room: 'other', body: { key: `rooms/other/../lab/${req.body.key.slice('rooms/lab/'.length)}` } });
      assert.equal(sneaky.status, 400);
      const otherBucket = await srv.api('/api/request-download', { body: { key: `s3://elsewhere/${req.body.key}` } });
      assert.equal(otherBucket.status, 403);
      // Still usable by its own room.
      assert.equal((await srv.api('/api/abort-upload', { body: { key: req.body.key, upload_id: req.body.upload_id } })).status, 200);
    });

    test('bad bodies get 400 with what was wrong; the server keeps serving', async () => {
      const cases: [string, { body?: unknown; rawBody?: string }, RegExp][] = [
        ['/api/request-upload', { rawBody: '{"file_name": ' }, /not valid JSON/],
        ['/api/request-upload', { body: { file_name: 'x/../y.slp', file_size: 1 } }, /file_name/],
        ['/api/request-upload', { body: { file_name: 'y.slp', file_size: -1 } }, /file_size/],
        ['/api/request-upload', { body: { file_name: 'y.slp', file_size: 1, part_size: 1 } }, /part_size/],
        // Regression: ".." as prefix_id opened an upload no later call could reach.
        ['/api/request-upload', { body: { file_name: 'y.slp', file_size: 1, prefix_id: '..' } }, /prefix_id/],
        ['/api/upload-urls', { body: { key: 'rooms/lab/x', upload_id: 'u', part_numbers: [0] } }, /part_numbers/],
        ['/api/complete-upload', { body: { key: 'rooms/lab/x', upload_id: 'u', parts: [{ part_number: 2, etag: 'a' }, { part_number: 1, etag: 'b' }] } }, /ascending/],
      ];
      for (const [path, init, re] of cases) {
        const r = await srv.api(path, init);
        assert.equal(r.status, 400, `${path} ${JSON.stringify(init)} -> ${r.status}`);
        assert.equal(r.body.error.code, 'bad_request');
        assert.match(r.body.error.message, re);
      }
      const unknown = await srv.api(`/api/upload-status?key=rooms/lab/nothing&upload_id=does-not-exist`);
      assert.equal(unknown.status, 404);
      assert.equal((await srv.api('/healthz', { room: null })).status, 200);
    });

    test('complete-upload refuses missing and undersized parts with the S3 reason', async () => {
      const data = randomBytes(5 * MiB);
      const a = await srv.api('/api/request-upload', { body: { file_name: 'a.slp', file_size: 10 * MiB, part_size: 5 * MiB } });
      const a1 = await putPart(a.body.urls[0].url, data);
      const missing = await srv.api('/api/complete-upload', { body: { key: a.body.key, upload_id: a.body.upload_id, parts: [{ part_number: 1, etag: a1 }, { part_number: 2, etag: a1 }] } });
      assert.equal(missing.status, 400, JSON.stringify(missing.body));
      assert.equal(missing.body.error.details.s3_code, 'InvalidPart');

      const b = await srv.api('/api/request-upload', { body: { file_name: 'b.slp', file_size: 10 * MiB, part_size: 5 * MiB } });
      const b1 = await putPart(b.body.urls[0].url, data.subarray(0, MiB)); // a non-last part under 5 MiB
      const b2 = await putPart(b.body.urls[1].url, data.subarray(0, MiB));
      const small = await srv.api('/api/complete-upload', { body: { key: b.body.key, upload_id: b.body.upload_id, parts: [{ part_number: 1, etag: b1 }, { part_number: 2, etag: b2 }] } });
      assert.equal(small.status, 400, JSON.stringify(small.body));
      assert.equal(small.body.error.details.s3_code, 'EntityTooSmall');
      for (const u of [a, b]) assert.equal((await srv.api('/api/abort-upload', { body: { key: u.body.key, upload_id: u.body.upload_id } })).status, 200);
    });
  });
});
