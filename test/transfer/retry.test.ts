import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { AppError } from '../../src/core/errors.js';
import { presignedExpiry, s3ErrorFields, s3Failure } from '../../src/core/transfer/httpClient.js';
import { classifyFailure, DEFAULT_RETRY, PAUSED, retryDelay, sleep, withRetry } from '../../src/core/transfer/retry.js';

const http = (status: number, s3Code?: string, extra: Record<string, unknown> = {}): AppError =>
  new AppError(status >= 500 ? 'upstream_error' : 'storage_error', `HTTP ${status}`, { details: { status, ...(s3Code ? { s3_code: s3Code } : {}), ...extra } });

describe('retry schedule', () => {
  test('full jitter: every delay lies in [0, min(max, base * 2^(n-1))) and the cap grows exponentially', () => {
    const policy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(retryDelay(1, policy, () => 0), 0);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, policy, () => 0.999999)), [99, 199, 399, 799, 999, 999]);
    for (let i = 0; i < 200; i++) {
      const d = retryDelay(3, policy);
      assert.ok(d >= 0 && d < 400, `delay ${d}`);
    }
  });

  test('the default policy makes at least 5 tries', () => {
    assert.ok(DEFAULT_RETRY.maxAttempts >= 5);
  });
});

describe('failure classification', () => {
  const cases: [string, unknown, string][] = [
    ['503 SlowDown', http(503, 'SlowDown'), 'slow_down'],
    ['429', http(429), 'slow_down'],
    ['SlowDown code on another status', http(400, 'SlowDown'), 'slow_down'],
    ['500 InternalError', http(500, 'InternalError'), 'retry'],
    ['502', http(502), 'retry'],
    ['400 BadDigest (damaged in transit)', http(400, 'BadDigest'), 'retry'],
    ['400 RequestTimeout', http(400, 'RequestTimeout'), 'retry'],
    ['408', http(408), 'retry'],
    ["507 InsufficientStorage (the store's disk full)", http(507, 'InsufficientStorage'), 'fatal'],
    ["MinIO's storage full", http(507, 'XMinioStorageFull'), 'fatal'],
    ['a bare 507', http(507), 'fatal'],
    ['400 InvalidArgument', http(400, 'InvalidArgument'), 'fatal'],
    ['403 SignatureDoesNotMatch', http(403, 'SignatureDoesNotMatch'), 'fatal'],
    ['404 NoSuchUpload', http(404, 'NoSuchUpload'), 'fatal'],
    ['403 expired presigned URL', http(403, 'AccessDenied', { expired: true }), 'refresh_url'],
    ['network reset', new AppError('upstream_error', 'reset', { details: { network: true } }), 'retry'],
    ['stall', new AppError('timeout', 'stalled', { details: { stalled: true } }), 'retry'],
    ['raw ECONNRESET', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'retry'],
    ['fetch failed with a socket cause', Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_SOCKET' } }), 'retry'],
    ['paused', PAUSED, 'aborted'],
    ['AbortError', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'aborted'],
    ['source changed', new AppError('source_changed', 'changed'), 'fatal'],
    ['a plain bug', new TypeError('x is undefined'), 'fatal'],
  ];
  for (const [name, err, kind] of cases) test(`${name} -> ${kind}`, () => assert.equal(classifyFailure(err), kind));

  test('RGW\'s answer to an expired presigned URL (403 AccessDenied, empty message) is recognised by the URL\'s own expiry', () => {
    // The body Ceph RGW 16 really sends (captured from a URL signed with expiresIn 1, used 2.5 s later).
    const body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message></Message><RequestId>tx0</RequestId><HostId>1012-default-default</HostId></Error>';
    const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const past = `http://h/b/k?X-Amz-Date=${stamp(new Date(Date.now() - 120_000))}&X-Amz-Expires=60&partNumber=1`;
    const future = `http://h/b/k?X-Amz-Date=${stamp(new Date())}&X-Amz-Expires=3600&partNumber=1`;
    assert.ok(Math.abs(presignedExpiry(past)! - (Date.now() - 60_000)) < 2000);
    assert.equal(classifyFailure(s3Failure({ status: 403, headers: {}, text: body }, 'part 1', past)), 'refresh_url');
    // The same AccessDenied on a URL that is still valid is a real refusal.
    assert.equal(classifyFailure(s3Failure({ status: 403, headers: {}, text: body }, 'part 1', future)), 'fatal');
    // AWS says it in words.
    const aws = '<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>';
    assert.equal(classifyFailure(s3Failure({ status: 403, headers: {}, text: aws }, 'part 1', future)), 'refresh_url');
  });

  test('a storage-full answer is disk_full and says what to do', () => {
    const e = s3Failure({ status: 507, headers: {}, text: '<Error><Code>InsufficientStorage</Code><Message>full</Message></Error>' }, 'part 5');
    assert.equal(e.code, 'disk_full');
    assert.match(e.message, /^part 5: S3 answered 507 \(InsufficientStorage: full\); the S3 server's storage is full: free space there .* run the same upload again/);
  });
});

describe('s3Failure: the S3 error document, read with the XML parser', () => {
  test('entities are decoded, the code and message named; a body that is no S3 error document gives the status alone', () => {
    const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>SlowDown</Code>\n  <Message>Please reduce your request rate &amp; retry: &#34;too many&#34;</Message>\n  <RequestId>r1</RequestId>\n</Error>';
    const e = s3Failure({ status: 503, headers: {}, text: body }, 'part 2');
    assert.equal(e.message, 'part 2: S3 answered 503 (SlowDown: Please reduce your request rate & retry: "too many")');
    assert.deepEqual(e.details, { status: 503, s3_code: 'SlowDown' });
    assert.deepEqual(s3ErrorFields('<html><body><h1>502 Bad Gateway</h1></body></html>'), {});
    assert.deepEqual(s3ErrorFields('<!DOCTYPE Error [<!ENTITY x "y">]><Error><Code>&x;</Code></Error>'), {});
    assert.equal(s3Failure({ status: 502, headers: {}, text: '<html>proxy</html>' }, 'part 3').message, 'part 3: S3 answered 502');
  });
});

describe('withRetry and sleep (mock timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(() => mock.timers.reset());

  const flush = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };

  test('retries 5xx on the schedule, then succeeds', async () => {
    let calls = 0;
    const delays: number[] = [];
    const p = withRetry(
      async () => {
        calls++;
        if (calls < 3) throw http(500);
        return 'ok';
      },
      { what: 'x', policy: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 10_000 }, random: () => 0.5, onRetry: (r) => delays.push(r.delayMs) },
    );
    await flush();
    assert.equal(calls, 1);
    mock.timers.tick(49);
    await flush();
    assert.equal(calls, 1, 'not before the first delay (50 ms)');
    mock.timers.tick(1);
    await flush();
    assert.equal(calls, 2);
    mock.timers.tick(100);
    await flush();
    assert.equal(await p, 'ok');
    assert.deepEqual(delays, [50, 100]);
  });

  test('fails at once on a 4xx, and after maxAttempts on persistent 5xx', async () => {
    let calls = 0;
    await assert.rejects(withRetry(async () => (calls++, Promise.reject(http(400, 'InvalidArgument'))), { what: 'x' }), /HTTP 400/);
    assert.equal(calls, 1);
    calls = 0;
    const p = withRetry(async () => (calls++, Promise.reject(http(502))), { what: 'op', policy: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 10 }, random: () => 1 });
    const check = assert.rejects(p, (e: AppError) => e.message.startsWith('op failed after 5 tries') && e.details?.attempts === 5);
    for (let i = 0; i < 6; i++) {
      await flush();
      mock.timers.tick(10);
    }
    await check;
    assert.equal(calls, 5);
  });

  test('a backend that refuses connections for 5 minutes costs no tries (wait); with outage "count" it is a failed try; "throw" hands it back at once', async () => {
    const refused = (): AppError => new AppError('upstream_error', 'backend POST /api/x: network failure (ECONNREFUSED)', { details: { network: true, errno: 'ECONNREFUSED', unreachable: { service: 'backend', endpoint: 'http://127.0.0.1:8080', reason: 'ECONNREFUSED' } } });
    let calls = 0;
    let upAt = Date.now() + 300_000;
    const waits: unknown[] = [];
    const p = withRetry(async () => {
      calls++;
      if (Date.now() < upAt) throw refused();
      return 'ok';
    }, { what: 'op', policy: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 }, random: () => 0.5, onWaiting: (w) => waits.push(w && { ...w, since: 0 }) });
    for (let i = 0; i < 340; i++) {
      await flush();
      mock.timers.tick(1000);
    }
    assert.equal(await p, 'ok');
    assert.ok(calls > 2 && calls < 40, `${calls} tries in 5 minutes (probes capped at 30 s apart)`);
    assert.deepEqual(waits, [{ service: 'backend', endpoint: 'http://127.0.0.1:8080', reason: 'ECONNREFUSED', since: 0 }, undefined]);
    calls = 0;
    upAt = Infinity;
    const counted = withRetry(async () => (calls++, Promise.reject(refused())), { what: 'op', outage: 'count', policy: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 }, random: () => 1 });
    const check = assert.rejects(counted, /op failed after 2 tries/);
    for (let i = 0; i < 3; i++) {
      await flush();
      mock.timers.tick(10);
    }
    await check;
    await assert.rejects(withRetry(() => Promise.reject(refused()), { what: 'op', outage: 'throw' }), /network failure \(ECONNREFUSED\)/);
  });

  test('an expired URL is re-signed and retried at once, without using up a try', async () => {
    let calls = 0;
    let refreshed = 0;
    const v = await withRetry(
      async () => {
        calls++;
        if (calls === 1) throw http(403, 'AccessDenied', { expired: true });
        return calls;
      },
      { what: 'x', policy: { ...DEFAULT_RETRY, maxAttempts: 1 }, refresh: async () => void refreshed++ },
    );
    assert.equal(v, 2);
    assert.equal(refreshed, 1);
  });

  test('a slow-down waits at least one base delay even when the jitter draws 0', async () => {
    let calls = 0;
    const p = withRetry(async () => (++calls < 2 ? Promise.reject(http(503, 'SlowDown')) : calls), { what: 'x', policy: { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 1000 }, random: () => 0 });
    await flush();
    mock.timers.tick(199);
    await flush();
    assert.equal(calls, 1);
    mock.timers.tick(1);
    await flush();
    assert.equal(await p, 2);
  });

  test('aborting the signal during a backoff rejects at once with the abort reason', async () => {
    const ctl = new AbortController();
    const p = withRetry(async () => Promise.reject(http(500)), { what: 'x', signal: ctl.signal, policy: { maxAttempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 }, random: () => 1 });
    await flush();
    ctl.abort(PAUSED);
    await assert.rejects(p, (e) => e === PAUSED);
    await assert.rejects(sleep(5, AbortSignal.abort()), (e: AppError) => e.code === 'aborted');
  });
});
