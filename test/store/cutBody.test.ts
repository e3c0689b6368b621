import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { waitFor } from '../support/wait.js';
import { clientFor, exists, newBucket, rawExchange, signedHead, tmpFiles } from './helpers.js';

/**
 * A client that cuts its PUT body (closes the connection, or half-closes it, before
 * Content-Length bytes) made no server error: the store answers IncompleteBody (400, nobody is
 * left to read it), logs it below warn, keeps nothing and serves on. node:http reports the cut
 * as an `aborted` error event on the request before its 'close', which used to reach the
 * client as InternalError with an "error" log line.
 */

interface LogLine {
  level: string;
  msg: string;
  code?: string;
  error?: string;
}

function logLines(t: EmbeddedStoreTarget): LogLine[] {
  return t
    .stderrTail()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

for (const how of ['destroy', 'end'] as const) {
  // One store per case: each reads its own log from the start.
  describe(`store: a PUT body the client cuts short (${how})`, () => {
    let t: EmbeddedStoreTarget;
    let s3: S3Client;
    let bucket: string;
    before(async () => {
      t = await startEmbeddedStore({ extraArgs: ['--log-level', 'debug'] });
      s3 = clientFor(t);
      bucket = await newBucket(s3, 'cut');
    });
    after(async () => {
      s3?.destroy();
      await t?.stop();
    });

    test(`the connection ${how === 'destroy' ? 'closed' : 'half-closed'} mid-body: IncompleteBody logged at debug, no "error" line, nothing stored`, async () => {
      const key = `cut-${how}`;
      const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/${key}`, headers: { 'content-length': String(4 * 1024 * 1024) } });
      // 2 MiB of 4: large enough that the body is being written when the connection goes.
      await rawExchange(t, [head, randomBytes(2 * 1024 * 1024)], { after: how, waitMs: 5000 });
      const refused = await waitFor(
        () => logLines(t).find((l) => l.msg === 'request refused' && l.code !== undefined && l.code !== 'NoSuchKey') ?? logLines(t).find((l) => l.level === 'error' || l.level === 'warn'),
        'the store to log the cut request',
        10_000,
        { lastSeen: () => t.stderrTail() },
      );
      assert.deepEqual({ level: refused.level, msg: refused.msg, code: refused.code }, { level: 'debug', msg: 'request refused', code: 'IncompleteBody' }, `the cut body was logged as ${JSON.stringify(refused)}`);
      assert.deepEqual(logLines(t).filter((l) => l.level === 'error' || l.level === 'warn'), [], 'a cut body is not a server error');
      assert.equal(await exists(s3, bucket, key), false, 'a cut body stored an object');
      await waitFor(async () => (await tmpFiles(t)).length === 0, 'the temp file of the cut body to be removed', 10_000);
      // The store still serves.
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `after-${how}`, Body: 'fine' }));
      assert.equal(await exists(s3, bucket, `after-${how}`), true);
    });
  });
}
