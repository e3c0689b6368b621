import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AbortMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, UploadPartCommand, type ListPartsCommand, type ListPartsCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { isAppError } from '../../src/core/errors.js';
import { listAllParts } from '../../src/core/listAllParts.js';
import { makeS3Client } from '../../src/core/s3client.js';
import { forEachS3Target, type S3Target } from '../support/targets.js';

/**
 * The one ListParts pager (S3Transport and UploadBackend), against real S3 servers: pages are
 * followed to the end (more than one default page of 1,000 parts; small pages with max-parts),
 * and a listing longer than the page cap is an explicit error, not a silent cut.
 */
forEachS3Target((factory) => {
  describe(`listAllParts against ${factory.name}`, () => {
    let target: S3Target;
    let s3: S3Client;
    let bucket: string;
    const uploads: { key: string; uploadId: string }[] = [];

    /** A multipart upload holding parts 1..count, each a few bytes (parts may be small until Complete). */
    async function uploadWithParts(count: number): Promise<{ bucket: string; key: string; uploadId: string; etags: Map<number, string> }> {
      const key = `pager/${randomBytes(4).toString('hex')}`;
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      uploads.push({ key, uploadId: UploadId! });
      const etags = new Map<number, string>();
      let next = 1;
      // A few parts in flight at once: 1,001 one by one would be slow for no reason.
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next <= count) {
            const n = next++;
            const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: `part ${n}` }));
            etags.set(n, r.ETag!);
          }
        }),
      );
      return { bucket, key, uploadId: UploadId!, etags };
    }

    /** Sends each page with the real client and counts the pages. */
    function counting(): { pages: number; send: (c: ListPartsCommand) => Promise<ListPartsCommandOutput> } {
      const c = { pages: 0, send: (command: ListPartsCommand) => (c.pages++, s3.send(command)) };
      return c;
    }

    before(async () => {
      target = await factory.start();
      s3 = makeS3Client({ endpoint: target.endpoint, region: target.region, accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey, forcePathStyle: true });
      bucket = `pager-${randomBytes(4).toString('hex')}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });
    after(async () => {
      for (const u of uploads) await s3?.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId })).catch(() => undefined);
      s3?.destroy();
      await target?.stop();
    });

    test('1,001 parts: two pages of the default size, every part once, in order, with its ETag and size', async () => {
      const u = await uploadWithParts(1001);
      const c = counting();

      const parts = await listAllParts(u, c.send);

      assert.equal(c.pages, 2);
      assert.deepEqual(parts.map((p) => p.partNumber), Array.from({ length: 1001 }, (_, i) => i + 1));
      for (const p of parts) {
        assert.equal(p.etag, u.etags.get(p.partNumber), `ETag of part ${p.partNumber}`);
        assert.equal(p.size, Buffer.byteLength(`part ${p.partNumber}`), `size of part ${p.partNumber}`);
      }
    });

    test('small pages (max-parts 2) are followed to the end; a listing longer than maxPages is an error that says so', async () => {
      const u = await uploadWithParts(5);
      const c = counting();

      const parts = await listAllParts(u, c.send, { pageSize: 2 });

      assert.equal(c.pages, 3);
      assert.deepEqual(parts.map((p) => p.partNumber), [1, 2, 3, 4, 5]);

      await assert.rejects(listAllParts(u, s3.send.bind(s3) as (command: ListPartsCommand) => Promise<ListPartsCommandOutput>, { pageSize: 2, maxPages: 2 }), (e: unknown) => {
        assert.ok(isAppError(e, 'upstream_error'), String(e));
        assert.match((e as Error).message, /still truncated after 2 pages of up to 2 parts \(4 parts so far, an upload has at most 10000\)/);
        return true;
      });
    });
  });
});

describe('listAllParts against a server whose listing is broken', () => {
  const upload = { bucket: 'b', key: 'k', uploadId: 'u' };
  const page = (o: Partial<ListPartsCommandOutput>): ListPartsCommandOutput => ({ $metadata: {}, Parts: [{ PartNumber: 1, ETag: '"e"', Size: 1 }], ...o });

  test('a truncated page without a next marker, or with one that does not move on, stops the paging', async () => {
    for (const next of [undefined, '0', 'abc']) {
      await assert.rejects(listAllParts(upload, async () => page({ IsTruncated: true, NextPartNumberMarker: next })), /page 1 is truncated but gave no next marker past 0/);
    }
    let sent = 0;
    await assert.rejects(
      listAllParts(upload, async () => (sent++, page({ IsTruncated: true, NextPartNumberMarker: '5' }))),
      /page 2 is truncated but gave no next marker past 5 \(got 5\)/,
    );
    assert.equal(sent, 2);
  });
});
