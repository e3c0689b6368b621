import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  DeleteObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { holdsFor, waitFor } from '../support/wait.js';
import { assertS3Error, clientFor, exists, keysOf, md5hex, newBucket, rawExchange, sha256hex, signedHead, tmpFiles, xmlCode } from './helpers.js';

/**
 * Input a well-behaved SDK never sends, on raw sockets where needed: each is refused with the
 * S3 error a client can act on, leaves nothing behind, and the store keeps serving.
 */
describe('store: bad input is refused and leaves nothing behind', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  let bucket: string;
  before(async () => {
    t = await startEmbeddedStore();
    s3 = clientFor(t);
    bucket = await newBucket(s3, 'bad');
  });
  after(async () => {
    s3?.destroy();
    await t?.stop();
  });

  /** The store still serves a normal PUT + GET, nothing is left in tmp/, and `bucket` holds only `keys`. */
  async function assertHealthy(keys: string[] = []): Promise<void> {
    const key = `health-${randomBytes(3).toString('hex')}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'ok' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(await got.Body!.transformToString(), 'ok');
    assert.deepEqual((await keysOf(s3, bucket)).filter((k) => k !== key && !k.startsWith('health-')), keys);
    let left: string[] = [];
    await waitFor(async () => (left = await tmpFiles(t)).length === 0, 'no temp file left behind', 5000, { intervalMs: 20, lastSeen: () => left.join(', ') });
  }

  async function rawPut(path: string, body: Buffer, headers: Record<string, string> = {}, payloadHash?: string) {
    const { head } = await signedHead(t, { method: 'PUT', path, payloadHash, headers: { 'content-length': String(body.length), ...headers } });
    return (await rawExchange(t, [head, body], { responses: 1 })).responses[0];
  }

  test('a key with a ".." segment: 400 InvalidArgument saying why', async () => {
    const r = await rawPut(`/${bucket}/a/../escape`, Buffer.from('x'));
    assertS3Error(r, 400, 'InvalidArgument', '".." key');
    assert.match(r!.body.toString(), /must not contain \.\. as a path segment/);
    await assertHealthy();
  });

  test('a key with a NUL byte: 400 InvalidArgument saying why', async () => {
    const r = await rawPut(`/${bucket}/nul%00byte`, Buffer.from('x'));
    assertS3Error(r, 400, 'InvalidArgument', 'NUL key');
    assert.match(r!.body.toString(), /NUL byte/);
    await assertHealthy();
  });

  test('a key over 1024 bytes: KeyTooLongError; exactly 1024 bytes is fine', async () => {
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k'.repeat(1025), Body: 'x' })), (e: Error) => e.name === 'KeyTooLongError');
    const max = 'é'.repeat(512);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: max, Body: 'x' }));
    await assertHealthy([max]);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: max }));
  });

  test('invalid bucket names: 400 InvalidBucketName', async () => {
    for (const name of ['Upper', 'a_b', 'xy', 'bad..dots', '10.0.0.1']) {
      const { head } = await signedHead(t, { method: 'PUT', path: `/${name}`, headers: { 'content-length': '0' } });
      assertS3Error((await rawExchange(t, [head], { responses: 1 })).responses[0], 400, 'InvalidBucketName', name);
    }
    await assertHealthy();
  });

  test('malformed CompleteMultipartUpload XML: 400 MalformedXML, the upload survives and completes', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp-xml' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp-xml', UploadId, PartNumber: 1, Body: 'only part' }));
    for (const xml of ['<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>', 'not xml at all', '<CompleteMultipartUpload></CompleteMultipartUpload>']) {
      const body = Buffer.from(xml);
      const { head } = await signedHead(t, { method: 'POST', path: `/${bucket}/mp-xml`, query: { uploadId: UploadId! }, payloadHash: sha256hex(body), headers: { 'content-length': String(body.length) } });
      assertS3Error((await rawExchange(t, [head, body], { responses: 1 })).responses[0], 400, 'MalformedXML', xml);
    }
    assert.equal(await exists(s3, bucket, 'mp-xml'), false);
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'mp-xml', UploadId }));
    assert.equal(parts.Parts?.length, 1);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp-xml', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    await assertHealthy(['mp-xml']);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'mp-xml' }));
  });

  test('a body shorter than Content-Length (the client closes early): no object, temp file removed', async () => {
    const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/short`, headers: { 'content-length': String(1024 * 1024) } });
    await rawExchange(t, [head, randomBytes(100 * 1024)], { after: 'destroy', waitMs: 200 });
    assert.equal(await exists(s3, bucket, 'short'), false);
    await assertHealthy();
  });

  test('a body longer than Content-Length: the extra bytes are a broken next request (400); a signed hash keeps the object out', async () => {
    const declared = randomBytes(4096);
    const sent = Buffer.concat([declared, Buffer.from('EXTRA GARBAGE THAT IS NOT HTTP\r\n\r\n')]);
    const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/longer`, payloadHash: sha256hex(sent), headers: { 'content-length': String(declared.length) } });
    const r = await rawExchange(t, [head, sent], { waitMs: 3000 });
    assertS3Error(r.responses[0], 400, 'XAmzContentSHA256Mismatch', 'the declared part of the longer body');
    assert.equal(r.responses[1]?.status, 400, `the extra bytes: ${r.raw.toString('latin1').slice(-300)}`);
    assert.ok(r.closedByServer, 'the connection is closed after the broken request');
    assert.equal(await exists(s3, bucket, 'longer'), false);
    // Unsigned payload: the object is exactly the Content-Length bytes, never the extra ones.
    const u = await signedHead(t, { method: 'PUT', path: `/${bucket}/longer-unsigned`, headers: { 'content-length': String(declared.length) } });
    const r2 = await rawExchange(t, [u.head, sent], { waitMs: 3000 });
    assert.equal(r2.responses[0]?.status, 200);
    assert.equal(r2.responses[0]?.headers.etag, `"${md5hex(declared)}"`);
    assert.equal(r2.responses[1]?.status, 400);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'longer-unsigned' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(declared));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'longer-unsigned' }));
    await assertHealthy();
  });

  test('PUT without Content-Length (and not aws-chunked): 411 MissingContentLength', async () => {
    const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/nolength` });
    assertS3Error((await rawExchange(t, [head], { responses: 1 })).responses[0], 411, 'MissingContentLength', 'no length');
    const chunked = await signedHead(t, { method: 'PUT', path: `/${bucket}/te-chunked`, headers: { 'transfer-encoding': 'chunked' } });
    const r = await rawExchange(t, [chunked.head, '5\r\nhello\r\n0\r\n\r\n'], { responses: 1 });
    assertS3Error(r.responses[0], 411, 'MissingContentLength', 'transfer-encoding chunked');
    await assertHealthy();
  });

  test('part numbers outside 1..10000: InvalidArgument, no part stored', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'parts' }));
    for (const n of ['0', '10001', '-1', 'x']) {
      const body = Buffer.from('p');
      const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/parts`, query: { partNumber: n, uploadId: UploadId! }, headers: { 'content-length': '1' } });
      assertS3Error((await rawExchange(t, [head, body], { responses: 1 })).responses[0], 400, 'InvalidArgument', `part ${n}`);
    }
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'parts', UploadId }));
    assert.equal(parts.Parts?.length ?? 0, 0);
    await assertHealthy();
  });

  test('a single PutObject or part over 5 GiB: EntityTooLarge before any byte is read', async () => {
    const big = String(5 * 1024 ** 3 + 1);
    const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/huge`, headers: { 'content-length': big } });
    const r = await rawExchange(t, [head, randomBytes(1000)], { responses: 1 });
    assertS3Error(r.responses[0], 400, 'EntityTooLarge', 'PutObject > 5 GiB');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'huge-part' }));
    const p = await signedHead(t, { method: 'PUT', path: `/${bucket}/huge-part`, query: { partNumber: '1', uploadId: UploadId! }, headers: { 'content-length': big } });
    assertS3Error((await rawExchange(t, [p.head], { responses: 1 })).responses[0], 400, 'EntityTooLarge', 'UploadPart > 5 GiB');
    await assertHealthy();
  });

  test('unknown upload ids: NoSuchUpload on every multipart call', async () => {
    const id = randomBytes(16).toString('hex');
    for (const [method, query] of [['PUT', { partNumber: '1', uploadId: id }], ['GET', { uploadId: id }], ['DELETE', { uploadId: id }], ['POST', { uploadId: id }]] as const) {
      const body = method === 'POST' ? '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>' : method === 'PUT' ? 'x' : '';
      const { head } = await signedHead(t, { method, path: `/${bucket}/nosuch`, query, headers: { 'content-length': String(body.length) } });
      assertS3Error((await rawExchange(t, [head, body], { responses: 1 })).responses[0], 404, 'NoSuchUpload', `${method} ?uploadId`);
    }
    await assertHealthy();
  });

  test('unsupported operations answer 501 NotImplemented; HEAD errors carry no body', async () => {
    // Object ACLs and retention are sub-resources this store does not have: refused, not mistaken for a PutObject.
    for (const q of ['acl', 'retention']) {
      const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/x`, query: { [q]: '' }, headers: { 'content-length': '0' } });
      assertS3Error((await rawExchange(t, [head], { responses: 1 })).responses[0], 501, 'NotImplemented', `PUT ?${q} on an object`);
    }
    for (const q of ['acl', 'tagging', 'policy', 'lifecycle']) {
      const { head } = await signedHead(t, { method: 'GET', path: `/${bucket}`, query: { [q]: '' } });
      assertS3Error((await rawExchange(t, [head], { responses: 1 })).responses[0], 501, 'NotImplemented', q);
    }
    const versioning = await signedHead(t, { method: 'GET', path: `/${bucket}`, query: { versioning: '' } });
    const v = (await rawExchange(t, [versioning.head], { responses: 1 })).responses[0];
    assert.equal(v?.status, 200, 'GetBucketVersioning (tools ask for it) answers "never enabled"');
    assert.match(v!.body.toString(), /<VersioningConfiguration[^>]*><\/VersioningConfiguration>|<VersioningConfiguration[^>]*\/>/);
    const { head } = await signedHead(t, { method: 'HEAD', path: `/${bucket}/missing` });
    const r = await rawExchange(t, [head], { responses: 1, head: true, waitMs: 500 });
    assert.equal(r.responses[0]?.status, 404);
    assert.equal(r.raw.length, r.raw.indexOf('\r\n\r\n') + 4, 'a HEAD error has no body');
    await assertHealthy();
  });

  test('Expect: 100-continue: a refused PUT is answered before the body is sent, an accepted one gets 100 Continue', async () => {
    const refused = await signedHead(t, { method: 'PUT', path: `/no-such-bucket-${randomBytes(3).toString('hex')}/k`, headers: { 'content-length': String(64 * 1024 * 1024), expect: '100-continue' } });
    const r = await rawExchange(t, [refused.head], { responses: 1 });
    assertS3Error(r.responses[0], 404, 'NoSuchBucket', 'PUT to a missing bucket');
    assert.doesNotMatch(r.raw.toString('latin1'), /100 Continue/);
    const body = randomBytes(1000);
    const ok = await signedHead(t, { method: 'PUT', path: `/${bucket}/expect`, headers: { 'content-length': String(body.length), expect: '100-continue' } });
    const r2 = await rawExchange(t, [ok.head, body], { responses: 1, awaitContinue: true });
    assert.match(r2.raw.toString('latin1'), /^HTTP\/1\.1 100 Continue\r\n/);
    assert.equal(r2.responses[0]?.status, 200);
    assert.equal(r2.responses[0]?.headers.etag, `"${md5hex(body)}"`);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'expect' }));
    await assertHealthy();
  });

  test('authentication: unsigned -> AccessDenied, unknown key -> InvalidAccessKeyId, skew > 15 min -> RequestTimeTooSkewed', async () => {
    const url = new URL(t.endpoint);
    const unsigned = await rawExchange(t, [`GET /${bucket} HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`], { responses: 1 });
    assertS3Error(unsigned.responses[0], 403, 'AccessDenied', 'unsigned');
    const stranger = clientFor(t, { accessKeyId: 'AKNOBODY' });
    try {
      await assert.rejects(stranger.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x' })), (e: Error) => e.name === 'InvalidAccessKeyId');
    } finally {
      stranger.destroy();
    }
    const skewed = await signedHead(t, { method: 'GET', path: `/${bucket}`, signingDate: new Date(Date.now() - 20 * 60_000) });
    assertS3Error((await rawExchange(t, [skewed.head], { responses: 1 })).responses[0], 403, 'RequestTimeTooSkewed', 'skewed');
    const wrong = await signedHead(t, { method: 'GET', path: `/${bucket}`, secretAccessKey: 'wrong-secret' });
    const r = await rawExchange(t, [wrong.head], { responses: 1 });
    assertS3Error(r.responses[0], 403, 'SignatureDoesNotMatch', 'wrong secret');
    assert.equal(xmlCode(r.responses[0]!.body), 'SignatureDoesNotMatch');
    await assertHealthy();
  });

  test('an idle keep-alive connection stays open past node\'s default 5 s (65 s, announced in Keep-Alive), so a client reusing it finds it open', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; keepAlive: string; socket: import('node:net').Socket }>((resolve, reject) => {
        // Unsigned: a 403, answered on a healthy connection like any other response.
        const req = http.get(`${t.endpoint}/`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, keepAlive: String(res.headers['keep-alive']), socket: req.socket! }));
        });
        req.on('error', reject);
      });
    try {
      const first = await get();
      assert.equal(first.status, 403);
      assert.equal(first.keepAlive, 'timeout=65');
      let closed = false;
      first.socket.once('close', () => (closed = true));
      await holdsFor(() => !closed, 'the idle connection staying open for 6 s', 6000);
      const second = await get();
      assert.equal(second.socket, first.socket, 'the second request reused the idle connection');
      assert.equal(second.status, 403);
    } finally {
      agent.destroy();
    }
  });

  test('CreateBucket\'s configuration is read as XML: a well-formed one (declaration, namespace, comment) is honoured, a malformed one is MalformedXML and creates nothing', async () => {
    const create = async (config: string) => {
      const name = `cfg-${randomBytes(4).toString('hex')}`;
      const { head } = await signedHead(t, { method: 'PUT', path: `/${name}`, payloadHash: sha256hex(config), headers: { 'content-length': String(Buffer.byteLength(config)) } });
      return { name, r: (await rawExchange(t, [head, config], { responses: 1 })).responses[0] };
    };
    const bucketExists = (name: string) => s3.send(new HeadBucketCommand({ Bucket: name })).then(() => true, () => false);
    const doc = (constraint: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n  <!-- where -->\n  <LocationConstraint>${constraint}</LocationConstraint>\n</CreateBucketConfiguration>`;

    const ok = await create(doc('us-east-1'));
    assert.equal(ok.r?.status, 200, ok.r?.body.toString());
    assert.ok(await bucketExists(ok.name));

    const elsewhere = await create(doc('eu-west-1'));
    assertS3Error(elsewhere.r, 400, 'InvalidArgument', 'another region');
    assert.match(elsewhere.r!.body.toString(), /eu-west-1/);

    // Cut short: the old pattern match found its constraint and made the bucket.
    const cut = await create('<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint>');
    assertS3Error(cut.r, 400, 'MalformedXML', 'an unclosed configuration');
    assert.equal(await bucketExists(cut.name), false, 'no bucket from a malformed request');
    const wrongRoot = await create('<Configuration><LocationConstraint>us-east-1</LocationConstraint></Configuration>');
    assertS3Error(wrongRoot.r, 400, 'MalformedXML', 'another root element');
  });
});
