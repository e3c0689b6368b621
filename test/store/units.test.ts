import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { crc32 } from '@aws-crypto/crc32';
import { crc32c as awsCrc32c } from '@aws-crypto/crc32c';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { getSigningKey, SignatureV4 } from '@smithy/signature-v4';
import { checksumOf, compositeChecksum, crc32c, isValidChecksumValue } from '../../src/store/checksums.js';
import { AwsChunkedDecoder, type AwsChunkedOptions } from '../../src/store/chunked.js';
import type { ObjectMeta } from '../../src/store/DiskBackend.js';
import { compareKeys, lowerBound } from '../../src/store/fsutil.js';
import { KeyLock } from '../../src/store/KeyLock.js';
import { decodeToken, encodeToken, listKeys } from '../../src/store/listing.js';
import { parseTarget, validateBucketName, validateKey } from '../../src/store/request.js';
import { isS3Error } from '../../src/store/S3Error.js';
import { SigV4Verifier, type SignedRequestView } from '../../src/store/sigv4.js';
import { parseCompleteMultipart } from '../../src/store/xml.js';
import { encodeKey } from './helpers.js';

function be32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

function code(e: unknown): string {
  return isS3Error(e) ? e.s3Code : `not an S3Error: ${String(e)}`;
}

describe('checksums', () => {
  test('CRC32 and CRC32C equal @aws-crypto/crc32 and /crc32c, whole and fed in pieces', () => {
    for (const len of [0, 1, 7, 8, 9, 63, 64, 1000, 65537]) {
      const data = randomBytes(len);
      assert.equal(checksumOf('CRC32', data), be32(crc32(data)), `crc32 of ${len} bytes`);
      assert.equal(checksumOf('CRC32C', data), be32(awsCrc32c(data)), `crc32c of ${len} bytes`);
      const cut = len >> 1;
      assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), awsCrc32c(data), `crc32c continued at ${cut}`);
    }
    assert.equal(checksumOf('SHA256', Buffer.from('abc')), createHash('sha256').update('abc').digest('base64'));
  });

  test('checksum values are validated by length and base64 form; composite is over the binary part checksums', () => {
    assert.ok(isValidChecksumValue('CRC32', 'AAAAAA=='));
    assert.ok(!isValidChecksumValue('CRC32', 'AAAA'));
    assert.ok(!isValidChecksumValue('SHA256', 'AAAAAA=='));
    const a = checksumOf('CRC32', Buffer.from('a'));
    const b = checksumOf('CRC32', Buffer.from('b'));
    assert.equal(compositeChecksum('CRC32', [a, b]), `${checksumOf('CRC32', Buffer.concat([Buffer.from(a, 'base64'), Buffer.from(b, 'base64')]))}-2`);
  });
});

async function decode(input: Buffer, opts: AwsChunkedOptions, piece = input.length): Promise<{ out: Buffer; trailers: Map<string, string> }> {
  const d = new AwsChunkedDecoder(opts);
  const out: Buffer[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += piece) pieces.push(input.subarray(i, i + piece));
  await pipeline(Readable.from(pieces), d, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return { out: Buffer.concat(out), trailers: d.trailers };
}

function chunkedBody(data: Buffer, chunk: number, trailer?: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) {
    const c = data.subarray(i, i + chunk);
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0\r\n${trailer ? trailer + '\r\n' : ''}\r\n`));
  return Buffer.concat(parts);
}

describe('aws-chunked decoder', () => {
  test('decodes unsigned chunks with a trailer, whatever the read boundaries', async () => {
    const data = randomBytes(3000);
    const body = chunkedBody(data, 1024, 'x-amz-checksum-crc32:' + checksumOf('CRC32', data));
    for (const piece of [1, 2, 3, 5, 7, 64, 1023, 1024, 1025, body.length]) {
      const r = await decode(body, { decodedLength: data.length }, piece);
      assert.ok(r.out.equals(data), `pieces of ${piece}`);
      assert.equal(r.trailers.get('x-amz-checksum-crc32'), checksumOf('CRC32', data));
    }
  });

  test('refuses a wrong decoded length, a chunk longer than its size, and a missing final chunk', async () => {
    const data = randomBytes(100);
    await assert.rejects(decode(chunkedBody(data, 50), { decodedLength: 99 }), (e) => code(e) === 'InvalidRequest');
    await assert.rejects(decode(chunkedBody(data, 50), { decodedLength: 101 }), (e) => code(e) === 'IncompleteBody');
    const longer = Buffer.from(`4\r\nabcdef\r\n0\r\n\r\n`);
    await assert.rejects(decode(longer, { decodedLength: 4 }), (e) => code(e) === 'InvalidRequest');
    await assert.rejects(decode(chunkedBody(data, 50).subarray(0, 60), { decodedLength: 100 }), (e) => code(e) === 'IncompleteBody');
  });

  test('verifies chained chunk signatures and refuses a tampered chunk', async () => {
    const key = await getSigningKey(Sha256, { accessKeyId: 'AK', secretAccessKey: 'secret' }, '20250101', 'us-east-1', 's3');
    const signing = { signingKey: key, longDate: '20250101T000000Z', scope: '20250101/us-east-1/s3/aws4_request', seedSignature: 'a'.repeat(64) };
    const data = randomBytes(20000);
    const sign = (prev: string, chunk: Buffer): string =>
      createHmac('sha256', key)
        .update(['AWS4-HMAC-SHA256-PAYLOAD', signing.longDate, signing.scope, prev, createHash('sha256').update('').digest('hex'), createHash('sha256').update(chunk).digest('hex')].join('\n'))
        .digest('hex');
    const build = (tamper: boolean): Buffer => {
      const parts: Buffer[] = [];
      let prev = signing.seedSignature;
      for (const c of [data.subarray(0, 8192), data.subarray(8192), Buffer.alloc(0)]) {
        const sig = sign(prev, c);
        prev = sig;
        const sent = tamper && c.length === 8192 ? Buffer.concat([c.subarray(0, 8191), Buffer.from([c[8191] ^ 1])]) : c;
        parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${sig}\r\n`), sent, Buffer.from('\r\n'));
      }
      // The final, empty chunk's "0;chunk-signature=..\r\n" + "" + "\r\n" ends the body.
      return Buffer.concat(parts);
    };
    const ok = await decode(build(false), { decodedLength: data.length, signing }, 777);
    assert.ok(ok.out.equals(data));
    await assert.rejects(decode(build(true), { decodedLength: data.length, signing }), (e) => code(e) === 'SignatureDoesNotMatch');
  });
});

describe('listing and keys', () => {
  test('keys sort by UTF-8 bytes (code points), not UTF-16 units', () => {
    const keys = ['\uff61', '\u{1f42d}', 'a', 'ä', 'Z', '日本'];
    assert.deepEqual([...keys].sort(compareKeys), [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    assert.equal(lowerBound(['a', 'b', 'c'], 'b'), 1);
    assert.equal(lowerBound(['a', 'b', 'c'], 'b', true), 2);
  });

  test('delimiter folding, paging on a common prefix and tokens', () => {
    const keys = ['a/1', 'a/2', 'b', 'c/1', 'c/2', 'd'];
    const meta = (key: string) => ({ key }) as ObjectMeta;
    const p1 = listKeys(keys, meta, { prefix: '', delimiter: '/', maxKeys: 2 });
    assert.deepEqual([p1.commonPrefixes, p1.contents.map((m) => m.key), p1.truncated], [['a/'], ['b'], true]);
    const p2 = listKeys(keys, meta, { prefix: '', delimiter: '/', maxKeys: 1, after: 'b' });
    assert.deepEqual([p2.commonPrefixes, p2.truncated, p2.last], [['c/'], true, { value: 'c/', isPrefix: true }]);
    const tok = decodeToken(encodeToken(p2.last!));
    const p3 = listKeys(keys, meta, { prefix: '', delimiter: '/', maxKeys: 5, after: tok.value, skipPrefix: tok.value });
    assert.deepEqual([p3.contents.map((m) => m.key), p3.truncated], [['d'], false]);
    assert.throws(() => decodeToken('garbage!'), (e) => code(e) === 'InvalidArgument');
  });

  test('request targets decode the key once and refuse bad names', () => {
    const t = parseTarget('/b-1/a%2520b/c%2Bd+e?list-type=2&prefix=x%2By&uploads');
    assert.deepEqual([t.bucket, t.key, t.query['prefix'], t.query['uploads']], ['b-1', 'a%20b/c+d+e', 'x+y', '']);
    assert.throws(() => parseTarget('/b/%zz'), (e) => code(e) === 'InvalidURI');
    for (const bad of ['ab', 'UPPER', 'a..b', '-ab', '192.168.1.1', 'a_b']) assert.throws(() => validateBucketName(bad), (e) => code(e) === 'InvalidBucketName', bad);
    assert.throws(() => validateKey('a/../b'), (e) => code(e) === 'InvalidArgument');
    assert.throws(() => validateKey('a\u0000b'), (e) => code(e) === 'InvalidArgument');
    assert.throws(() => validateKey('k'.repeat(1025)), (e) => code(e) === 'KeyTooLongError');
    validateKey('ok/..x/x../.../k'.padEnd(1024, 'k'));
  });

  test('Complete XML: parts, entities, whitespace; malformed and DOCTYPE refused', () => {
    const parts = parseCompleteMultipart('<CompleteMultipartUpload><Part><PartNumber> 2 </PartNumber><ETag>&quot;ab&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>');
    assert.deepEqual(parts, [{ partNumber: 2, etag: '"ab"', checksums: { CRC32: 'AAAAAA==' } }]);
    // Regression (rclone): Go's encoding/xml escapes quotes as &#34;.
    assert.equal(parseCompleteMultipart('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&#34;ab&#34;</ETag></Part></CompleteMultipartUpload>')[0].etag, '"ab"');
    for (const bad of ['<CompleteMultipartUpload><Part>', '<Other/>', '<CompleteMultipartUpload></CompleteMultipartUpload>', '<!DOCTYPE x [<!ENTITY a "b">]><CompleteMultipartUpload/>', '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>']) {
      assert.throws(() => parseCompleteMultipart(bad), (e) => code(e) === 'MalformedXML', bad);
    }
  });

  test('KeyLock runs holders of one name one at a time, others in parallel', async () => {
    const lock = new KeyLock();
    const log: string[] = [];
    let releaseA!: () => void;
    const aHolds = new Promise<void>((r) => (releaseA = r));
    const job = (name: string, id: string, until: Promise<void> = Promise.resolve()) =>
      lock.run(name, async () => {
        log.push(`${id}+`);
        await until;
        log.push(`${id}-`);
      });
    const a = job('k', 'a', aHolds);
    const b = job('k', 'b');
    // 'a' holds 'k' until released: another name runs meanwhile, the same name waits.
    await job('other', 'c');
    assert.deepEqual(log, ['a+', 'c+', 'c-'], 'another name waited for the lock, or b did not');
    releaseA();
    await Promise.all([a, b]);
    assert.deepEqual(log.filter((s) => s.startsWith('a') || s.startsWith('b')), ['a+', 'a-', 'b+', 'b-']);
  });
});

describe('SigV4Verifier (in process, signed by the SDK signer)', () => {
  const creds = { accessKeyId: 'AKTEST', secretAccessKey: 'secret-test-key' };
  const host = '127.0.0.1:9999';
  const signerFor = (secret = creds.secretAccessKey) => new SignatureV4({ credentials: { ...creds, secretAccessKey: secret }, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const view = (r: { method: string; path: string; query?: unknown; headers: Record<string, string> }): SignedRequestView => ({
    method: r.method,
    rawPath: r.path,
    query: r.query as Record<string, string>,
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), [v]])),
  });
  const at = Date.UTC(2025, 5, 1, 12, 0, 0);
  const verifier = (now = at) => new SigV4Verifier(new Map([[creds.accessKeyId, creds.secretAccessKey]]), 'us-east-1', () => now);
  const request = (key: string, query: Record<string, string> = {}) =>
    new HttpRequest({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9999, path: `/bkt/${encodeKey(key)}`, query, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });

  test('header-signed requests verify for keys with spaces, unicode, + % = ~ and stay exact', async () => {
    for (const key of ['with space/a b', 'unicodé/日本/🐭', 'plus+sign', 'pct%20%2F%', 'eq=ual', 'tilde~', "mixed!'()*"]) {
      const signed = await signerFor().sign(request(key, { 'x-id': 'GetObject' }), { signingDate: new Date(at) });
      const r = await verifier().verify(view(signed));
      assert.equal(r.accessKeyId, creds.accessKeyId, key);
      const other = view(signed);
      other.rawPath = other.rawPath.replace('/bkt/', '/bkt/x');
      await assert.rejects(verifier().verify(other), (e) => code(e) === 'SignatureDoesNotMatch', `changed path for ${key}`);
    }
  });

  test('wrong secret, unknown key, skew and region are told apart', async () => {
    const bad = await signerFor('nope').sign(request('k'), { signingDate: new Date(at) });
    await assert.rejects(verifier().verify(view(bad)), (e) => code(e) === 'SignatureDoesNotMatch');
    const good = await signerFor().sign(request('k'), { signingDate: new Date(at) });
    await assert.rejects(verifier(at + 16 * 60_000).verify(view(good)), (e) => code(e) === 'RequestTimeTooSkewed');
    await verifier(at + 14 * 60_000).verify(view(good));
    const unknown = view(good);
    unknown.headers.authorization = [String(good.headers.authorization).replace('AKTEST', 'AKOTHER')];
    await assert.rejects(verifier().verify(unknown), (e) => code(e) === 'InvalidAccessKeyId');
    const west = await new SignatureV4({ credentials: creds, region: 'eu-west-1', service: 's3', sha256: Sha256, uriEscapePath: false }).sign(request('k'), { signingDate: new Date(at) });
    await assert.rejects(verifier().verify(view(west)), (e) => code(e) === 'AuthorizationHeaderMalformed');
    await assert.rejects(verifier().verify({ ...view(request('k')) }), (e) => code(e) === 'AccessDenied');
  });

  test('Signature Version 2 (header or presigned query) is InvalidRequest in AWS\'s words; the URL form also says how to presign with SigV4', async () => {
    const header = view(request('k'));
    header.headers.authorization = ['AWS AKTEST:frJIUN8DYpKDtOLCwo//yllqDzg='];
    header.headers.date = ['Sun, 01 Jun 2025 12:00:00 GMT'];
    await assert.rejects(verifier().verify(header), (e) => code(e) === 'InvalidRequest' && (e as Error).message === 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    const query = { ...view(request('k')), query: { AWSAccessKeyId: 'AKTEST', Expires: '1748779200', Signature: 'frJIUN8DYpKDtOLCwo//yllqDzg=' } };
    await assert.rejects(
      verifier().verify(query),
      (e) => code(e) === 'InvalidRequest' && /^The authorization mechanism you have provided is not supported\. Please use AWS4-HMAC-SHA256\. This URL is presigned with AWS Signature Version 2.*signature_version='s3v4'/.test((e as Error).message),
    );
    // A stray Signature parameter without AWSAccessKeyId is just an unsigned request.
    await assert.rejects(verifier().verify({ ...view(request('k')), query: { Signature: 'x' } }), (e) => code(e) === 'AccessDenied' && /not signed/.test((e as Error).message));
  });

  test('a signature for another region names the right one, in AWS\'s words and in <Region>', async () => {
    const west = await new SignatureV4({ credentials: creds, region: 'eu-west-1', service: 's3', sha256: Sha256, uriEscapePath: false }).sign(request('k'), { signingDate: new Date(at) });
    await assert.rejects(verifier().verify(view(west)), (e) => isS3Error(e, 'AuthorizationHeaderMalformed') && e.extra.Region === 'us-east-1' && /^The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'\. .*--region us-east-1/.test(e.message));
    const presigned = await new SignatureV4({ credentials: creds, region: 'eu-west-1', service: 's3', sha256: Sha256, uriEscapePath: false }).presign(request('k'), { signingDate: new Date(at), expiresIn: 60 });
    await assert.rejects(verifier().verify(view(presigned)), (e) => isS3Error(e, 'AuthorizationQueryParametersError') && e.extra.Region === 'us-east-1' && /^Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'/.test(e.message));
  });

  test('presigned: valid until X-Amz-Expires, then "Request has expired"; tampering and > 7 days refused', async () => {
    const p = await signerFor().presign(request('dir/file name.bin'), { signingDate: new Date(at), expiresIn: 60 });
    await verifier(at + 59_000).verify(view(p));
    await assert.rejects(verifier(at + 61_000).verify(view(p)), (e) => code(e) === 'AccessDenied' && /Request has expired/.test((e as Error).message));
    const longer = view(p);
    longer.query = { ...longer.query, 'X-Amz-Expires': '3600' };
    await assert.rejects(verifier(at + 1000).verify(longer), (e) => code(e) === 'SignatureDoesNotMatch');
    const extra = view(p);
    extra.query = { ...extra.query, 'response-content-type': 'text/html' };
    await assert.rejects(verifier(at + 1000).verify(extra), (e) => code(e) === 'SignatureDoesNotMatch');
    const week = view(p);
    week.query = { ...week.query, 'X-Amz-Expires': String(7 * 24 * 3600 + 1) };
    await assert.rejects(verifier(at + 1000).verify(week), (e) => code(e) === 'AuthorizationQueryParametersError');
  });
});
