import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { rawExchange, type RawResponse } from '../store/helpers.js';

/**
 * The server checks the room token before it reads the body: a caller without a valid token is
 * answered 401 without the server parsing up to 4 MB of JSON for it. Raw HTTP/1.1 over a socket,
 * so the test controls how much of the body is sent.
 */
describe('server: the room token is checked before the body is parsed', () => {
  let store: EmbeddedStoreTarget;
  let server: ServerProcess;
  /** The server as a raw-socket peer (rawExchange needs only the endpoint). */
  let peer: EmbeddedStoreTarget;

  before(async () => {
    store = await startEmbeddedStore();
    server = await startServerProcess(store);
    peer = { ...store, endpoint: server.url };
  });
  after(async () => {
    await server?.stop();
    await store?.stop();
  });

  const head = (path: string, length: number, token?: string): string =>
    [`POST ${path} HTTP/1.1`, `host: ${new URL(server.url).host}`, 'content-type: application/json', `content-length: ${length}`, ...(token ? [`authorization: Bearer ${token}`] : []), '', ''].join('\r\n');
  const error = (r: RawResponse | undefined): { code: string; message: string } => JSON.parse(r?.body.toString() ?? '{}').error ?? {};

  test('a wrong or missing token with a malformed JSON body: 401, not the parser\'s 400', async () => {
    const body = '{"file_name": ';
    for (const token of [undefined, 'x'.repeat(32), `${server.rooms.lab}x`]) {
      const r = await rawExchange(peer, [head('/api/request-upload', body.length, token) + body], { responses: 1 });
      assert.equal(r.responses[0]?.status, 401, `token ${token}: ${r.responses[0]?.body.toString()}`);
      assert.equal(error(r.responses[0]).code, 'unauthorized');
    }
    // With the room's token the same body reaches the parser, and its error says what was wrong.
    const r = await rawExchange(peer, [head('/api/request-upload', body.length, server.rooms.lab) + body], { responses: 1 });
    assert.equal(r.responses[0]?.status, 400, r.responses[0]?.body.toString());
    assert.match(error(r.responses[0]).message, /not valid JSON/);
  });

  test('a body over the 4 MB limit without a valid token: 401, not 413', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 0x20);
    const r = await rawExchange(peer, [head('/api/complete-upload', body.length, 'wrong'), body], { responses: 1 });
    assert.equal(r.responses[0]?.status, 401, r.responses[0]?.body.toString());
  });

  test('the 401 comes while the body is still unsent: nothing of it had to be read first', async () => {
    const declared = 4 * 1024 * 1024 - 1;
    const first = Buffer.from(`{"key": "rooms/lab/${'x'.repeat(60 * 1024)}`);
    // Only 60 KiB of the ~4 MB declared are written; the connection stays open, so the answer
    // can only be one given before the body's end.
    const r = await rawExchange(peer, [head('/api/upload-urls', declared), first], { after: 'keep', responses: 1, waitMs: 20_000 });
    assert.equal(r.responses[0]?.status, 401, `no answer before the body's end (${r.raw.length} bytes received)`);
    assert.match(error(r.responses[0]).message, /Bearer/);
  });

  test('with the room\'s token a valid body is parsed and served as before', async () => {
    const body = JSON.stringify({ file_name: 'a.slp', file_size: 10 });
    const r = await rawExchange(peer, [head('/api/request-upload', Buffer.byteLength(body), server.rooms.lab) + body], { responses: 1 });
    assert.equal(r.responses[0]?.status, 200, r.responses[0]?.body.toString());
    const up = JSON.parse(r.responses[0]!.body.toString());
    assert.match(up.key, /^rooms\/lab\/datasets\/[^/]+\/a\.slp$/);
    assert.equal((await server.api('/api/abort-upload', { body: { key: up.key, upload_id: up.upload_id } })).status, 200);
  });
});
