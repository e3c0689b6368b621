import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEmbeddedStore } from '../support/store.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { keysViaBoto3, sha256ViaBoto3, startAgentProcess, startAgentTestEnv, writeBigZip, type AgentProcess, type AgentTestEnv } from './support/env.js';
import { holdsFor, waitFor } from '../support/wait.js';
import { AgentClient, type AgentEvent } from '../../src/core/AgentClient.js';
import { resetEventData, uploadEventData, type UploadView } from '../../src/core/schemas/agent.js';

type UploadEvent = ReturnType<typeof uploadEventData.parse>;

/** Reads the upload events of the agent's SSE stream (validated) until `until` says stop. */
async function collectEvents(agent: AgentProcess, until: (events: UploadEvent[]) => boolean, timeoutMs = 30_000): Promise<UploadEvent[]> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  const res = await fetch(`${agent.url}/api/events`, { headers: { authorization: `Bearer ${agent.token}` }, signal: ctrl.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const events: UploadEvent[] = [];
  let buf = '';
  const dec = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const lines = block.split('\n');
        const data = lines.find((l) => l.startsWith('data: '));
        if (data && lines.includes('event: upload')) events.push(uploadEventData.parse(JSON.parse(data.slice(6))));
      }
      if (until(events)) break;
    }
  } catch (e) {
    if (!ctrl.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
  return events;
}

describe('agent HTTP API (sleap-rtc agent as a process, embedded store)', () => {
  let env: AgentTestEnv;
  let agent: AgentProcess;
  let data: string;

  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    data = join(env.dir, 'data');
    agent = await startAgentProcess({ ...env.env, SLEAP_RTC_ROOM: 'lab' }, data, ['--watch-stability', '0.3']);
  });
  after(async () => {
    await agent?.proc.stop();
    await env?.stop();
    await env?.target.stop();
  });

  const until = (id: string, state: string) => () => agent.api(`/api/uploads/${id}`).then((r) => (r.body.state === state ? r.body : undefined));

  test('the token file is 0600 and every /api route needs the token (401)', async () => {
    assert.equal((await stat(join(data, 'agent', 'token'))).mode & 0o777, 0o600);
    for (const [method, path] of [['GET', '/api/uploads'], ['POST', '/api/uploads'], ['GET', '/api/events'], ['GET', '/api/watches'], ['DELETE', '/api/uploads/x']]) {
      const none = await agent.api(path, { method, token: null });
      assert.equal(none.status, 401, `${method} ${path}`);
      assert.match(none.body.error.message, /Authorization: Bearer/);
      assert.equal((await agent.api(path, { method, token: 'wrong-token' })).status, 401);
    }
  });

  test('a Host other than 127.0.0.1/localhost:<port> is refused (403, DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: agent.port, path: '/api/uploads', headers: { host, authorization: `Bearer ${agent.token}` } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await status('evil.example'), 403);
    assert.equal(await status(`evil.example:${agent.port}`), 403);
    assert.equal(await status(`127.0.0.1:${agent.port + 1}`), 403);
    assert.equal(await status(`localhost:${agent.port}`), 200);
    assert.equal(await status(`127.0.0.1:${agent.port}`), 200);
  });

  test('a request with a browser Origin not allow-listed is refused (403)', async () => {
    const r = await agent.api('/api/uploads', { headers: { origin: 'https://evil.example' } });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /Origin/);
  });

  test('an allow-listed Origin (--allowed-origins) gets CORS headers: its preflight is answered without the token, its calls still need the token', async () => {
    const page = 'http://localhost:8888';
    const other = await startAgentProcess({ ...env.env, SLEAP_RTC_ROOM: 'lab' }, join(env.dir, 'data-cors'), ['--allowed-origins', page]);
    try {
      const pre = await fetch(`${other.url}/api/uploads`, { method: 'OPTIONS', headers: { origin: page, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), page);
      assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
      assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/);
      const listed = await fetch(`${other.url}/api/uploads`, { headers: { origin: page, authorization: `Bearer ${other.token}` } });
      assert.equal(listed.status, 200);
      assert.equal(listed.headers.get('access-control-allow-origin'), page);
      assert.deepEqual(await listed.json(), { uploads: [] });
      const noToken = await fetch(`${other.url}/api/uploads`, { headers: { origin: page } });
      assert.equal(noToken.status, 401, 'CORS lets the page read answers, not skip the token');
      const evil = await fetch(`${other.url}/api/uploads`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
      assert.equal(evil.status, 403);
      assert.equal(evil.headers.get('access-control-allow-origin'), null);
    } finally {
      await other.proc.stop();
    }
  });

  test('/openapi.json is served, generated from the schemas', async () => {
    const res = await fetch(`${agent.url}/openapi.json`);
    assert.equal(res.status, 200);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test walks the document's deep paths; a missing one fails it with a TypeError
    const doc = (await res.json()) as any;
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/api/uploads'].post.requestBody.content['application/json'].schema.properties.path);
    assert.ok(doc.paths['/api/watches'].post);
    assert.equal(doc.paths['/api/uploads/{id}'].get.responses['200'].content['application/json'].schema.properties.state.enum.length, 8);
  });

  test('upload lifecycle: create, SSE events, pause, resume, completed; the object matches (boto3)', { timeout: 60_000 }, async () => {
    const file = join(env.dir, 'data40.zip');
    await writeBigZip(file, 40 * 1024 * 1024);
    env.proxy.setRate(8 * 1024 * 1024);
    const events = collectEvents(agent, (ev) => ev.some((e) => e.type === 'state' && e.upload.state === 'completed'));
    const created = await agent.api('/api/uploads', { body: { path: file } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    await waitFor(() => agent.api(`/api/uploads/${id}`).then((r) => (r.body.bytes_done > 0 ? r.body : undefined)), 'first bytes');
    const paused = await agent.api(`/api/uploads/${id}/pause`, { method: 'POST' });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.state, 'paused');
    // The parts in flight are aborted; what they had handed to the kernel still drains into the
    // proxy (through its rate limit): wait until no PUT body is still arriving, then watch.
    await waitFor(() => !env.proxy.requests.some((r) => r.method === 'PUT' && r.open), 'the aborted parts to drain into the proxy', 30_000);
    const before = (await agent.api(`/api/uploads/${id}`)).body.bytes_done;
    const proxied = env.proxy.requestBytes('PUT');
    let seen: UploadView | undefined;
    const still = async () => {
      seen = (await agent.api(`/api/uploads/${id}`)).body;
      return seen?.state === 'paused' && seen.bytes_done === before && env.proxy.requestBytes('PUT') === proxied;
    };
    await holdsFor(still, 'no bytes move while paused', 700, { lastSeen: () => `${seen?.state}, ${seen?.bytes_done} bytes done (${before} at pause); proxy ${env.proxy.requestBytes('PUT')} (${proxied})` });
    env.proxy.setRate(undefined);
    assert.equal((await agent.api(`/api/uploads/${id}/resume`, { method: 'POST' })).status, 200);
    const done = await waitFor(until(id, 'completed'), 'completed');
    assert.equal(done.size, 40 * 1024 * 1024);
    assert.equal(done.bytes_done, done.size);
    const list = await agent.api('/api/uploads');
    assert.ok(list.body.uploads.some((u: UploadView) => u.id === id));
    const ev = await events;
    assert.ok(ev.some((e) => e.type === 'progress' && e.upload.id === id));
    assert.ok(ev.some((e) => e.type === 'state' && e.upload.state === 'paused'));
    const { createHash } = await import('node:crypto');
    assert.equal(await sha256ViaBoto3(env.target, env.server.bucket, done.key), createHash('sha256').update(await readFile(file)).digest('hex'));
    assert.equal(done.sha256, createHash('sha256').update(await readFile(file)).digest('hex'));
    // Deleting a finished upload forgets it; the object stays.
    assert.equal((await agent.api(`/api/uploads/${id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await agent.api(`/api/uploads/${id}`)).status, 404);
    assert.ok((await keysViaBoto3(env.target, env.server.bucket)).includes(done.key));
  });

  test('SSE resume: a client that reconnects with Last-Event-ID gets every event it missed, in order, then new ones; an id from another agent run gets event reset', { timeout: 60_000 }, async () => {
    const client = new AgentClient(agent.url, agent.token);
    const uploadAndWait = async (name: string) => {
      const file = join(env.dir, name);
      await writeSyntheticSlp(file, { frames: 6, instancesPerFrame: 1, nodes: 3 });
      const created = await agent.api('/api/uploads', { body: { path: file } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await waitFor(until(created.body.id, 'completed'), `${name} completed`);
      return created.body.id as string;
    };
    const read = async (stream: AsyncGenerator<AgentEvent>, stop: (e: AgentEvent) => boolean) => {
      const got: AgentEvent[] = [];
      for await (const e of stream) {
        got.push(e);
        if (stop(e)) break;
      }
      return got;
    };
    const completed = (id: string) => (e: AgentEvent) => {
      const d = e.event === 'upload' ? uploadEventData.parse(e.data) : undefined;
      return d?.type === 'state' && d.upload.id === id && d.upload.state === 'completed';
    };
    // Stream 1 sees the first upload through, then goes away.
    const c1 = new AbortController();
    const s1 = await client.openEvents(c1.signal);
    const first = uploadAndWait('resume-1.slp');
    const seen = await read(s1, completed(await first));
    c1.abort();
    const [run, lastN] = seen.at(-1)!.id!.split('.');
    // While nobody listens: a second upload, start to finish.
    const second = await uploadAndWait('resume-2.slp');
    // Stream 2 resumes from the last id seen: the missed events come first, numbered on.
    const c2 = new AbortController();
    const missed = await read(await client.openEvents(c2.signal, seen.at(-1)!.id), completed(second));
    c2.abort();
    assert.ok(missed.length >= 2, `missed events: ${missed.length}`);
    assert.deepEqual(
      missed.map((e) => e.id),
      missed.map((_, i) => `${run}.${Number(lastN) + 1 + i}`),
      'consecutive ids from the one after the last seen: no gap, no repeat',
    );
    const ofSecond = missed.filter((e) => e.event === 'upload' && uploadEventData.parse(e.data).upload.id === second);
    assert.ok(ofSecond.length >= 2, 'the second upload\'s events were replayed');
    assert.ok(completed(second)(missed.at(-1)!), 'ending with its completion');
    // An id from another run of the agent: reset, then live events.
    const c3 = new AbortController();
    const s3 = await client.openEvents(c3.signal, `${run === 'deadbeef' ? 'feedface' : 'deadbeef'}.3`);
    const reset = (await s3.next()).value as AgentEvent;
    c3.abort();
    assert.equal(reset.event, 'reset');
    assert.equal(resetEventData.parse(reset.data).reason, 'agent_restarted');
  });

  test('DELETE of a running upload aborts it: no object, no multipart left', { timeout: 60_000 }, async () => {
    const file = join(env.dir, 'del.zip');
    await writeBigZip(file, 24 * 1024 * 1024);
    env.proxy.setRate(4 * 1024 * 1024);
    try {
      const created = await agent.api('/api/uploads', { body: { path: file } });
      const id = created.body.id;
      const running = await waitFor(() => agent.api(`/api/uploads/${id}`).then((r) => (r.body.key && r.body.bytes_done > 0 ? r.body : undefined)), 'first bytes');
      const session = JSON.parse(await readFile(join(data, 'agent', 'ledger.json'), 'utf8')).uploads[id].files[0].session;
      assert.equal((await agent.api(`/api/uploads/${id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await agent.api(`/api/uploads/${id}`)).status, 404);
      const status = await env.server.api(`/api/upload-status?key=${encodeURIComponent(session.key)}&upload_id=${encodeURIComponent(session.uploadId)}`);
      assert.equal(status.status, 404, 'the multipart upload was aborted');
      assert.ok(!(await keysViaBoto3(env.target, env.server.bucket)).includes(running.key));
      const ledger = JSON.parse(await readFile(join(data, 'agent', 'ledger.json'), 'utf8'));
      assert.equal(ledger.uploads[id], undefined);
    } finally {
      env.proxy.setRate(undefined);
    }
  });

  test('watches: a .slp dropped into a watched folder is uploaded', { timeout: 60_000 }, async () => {
    const folder = join(env.dir, 'watched');
    await mkdir(folder);
    const w = await agent.api('/api/watches', { body: { path: folder, auto_upload: true } });
    assert.equal(w.status, 201, JSON.stringify(w.body));
    assert.deepEqual((await agent.api('/api/watches')).body.watches, [{ path: folder, auto_upload: true }]);
    const tmp = join(env.dir, 'labels.slp');
    await writeSyntheticSlp(tmp, { frames: 6, instancesPerFrame: 1, nodes: 3 });
    await copyFile(tmp, join(folder, 'labels.slp'));
    const up = await waitFor(() => agent.api('/api/uploads').then((r) => r.body.uploads.find((u: UploadView) => u.path === join(folder, 'labels.slp') && u.state === 'completed')), 'watched upload completed');
    assert.match(up.key, /\/labels\.slp$/);
    assert.equal((await agent.api('/api/watches', { method: 'DELETE', body: { path: folder } })).status, 204);
    assert.deepEqual((await agent.api('/api/watches')).body.watches, []);
    assert.equal((await agent.api('/api/watches', { method: 'DELETE', body: { path: folder } })).status, 404);
  });

  test('regression: adding a watched folder again does not restart its watcher (a file written meanwhile was never uploaded)', { timeout: 60_000 }, async () => {
    const folder = join(env.dir, 'watched-twice');
    await mkdir(folder);
    assert.equal((await agent.api('/api/watches', { body: { path: folder, auto_upload: true } })).status, 201);
    const tmp = join(env.dir, 'twice.slp');
    await writeSyntheticSlp(tmp, { frames: 6, instancesPerFrame: 1, nodes: 3 });
    // The same watch again (as the extension's settings sync does), and the file at once.
    const again = agent.api('/api/watches', { body: { path: folder, auto_upload: true } });
    await copyFile(tmp, join(folder, 'twice.slp'));
    assert.equal((await again).status, 201);
    await waitFor(() => agent.api('/api/uploads').then((r) => r.body.uploads.find((u: UploadView) => u.path === join(folder, 'twice.slp') && u.state === 'completed')), 'the file written while the watch was added again is uploaded');
    assert.equal((await agent.api('/api/watches', { method: 'DELETE', body: { path: folder } })).status, 204);
  });

  test('regression: a watched file whose upload failed is uploaded again when it changes', { timeout: 90_000 }, async () => {
    const folder = join(env.dir, 'watched-again');
    await mkdir(folder);
    assert.equal((await agent.api('/api/watches', { body: { path: folder, auto_upload: true } })).status, 201);
    const file = join(folder, 'grow.zip');
    const all = () => agent.api('/api/uploads').then((r) => r.body.uploads.filter((u: UploadView) => u.path === file));
    env.proxy.setRate(2 * 1024 * 1024);
    try {
      await writeBigZip(file, 16 * 1024 * 1024);
      await waitFor(() => all().then((us) => us.find((u: UploadView) => u.bytes_done > 0)), 'first bytes');
      await writeFile(file, (await readFile(file)).subarray(0, 8 * 1024 * 1024)); // cut short mid-upload
      await waitFor(() => all().then((us) => us.find((u: UploadView) => u.state === 'failed')), 'the upload fails');
    } finally {
      env.proxy.setRate(undefined);
    }
    await writeBigZip(file, 12 * 1024 * 1024); // written again
    const done = await waitFor(() => all().then((us) => us.find((u: UploadView) => u.state === 'completed')), 'uploaded again', 60_000);
    assert.equal(done.size, 12 * 1024 * 1024);
    assert.equal((await agent.api('/api/watches', { method: 'DELETE', body: { path: folder } })).status, 204);
  });

  test('bad input is refused with a clear message, nothing reaches the store', async () => {
    const keysBefore = await keysViaBoto3(env.target, env.server.bucket);
    const fake = join(env.dir, 'fake.slp');
    await writeFile(fake, 'this is not hdf5 at all');
    const fakeZip = join(env.dir, 'fake.zip');
    await writeFile(fakeZip, 'not a zip');
    const emptyDir = join(env.dir, 'empty');
    await mkdir(emptyDir);
    await writeFile(join(emptyDir, 'notes.txt'), 'hello');
    const cases: [unknown, number, RegExp][] = [
      [{ path: join(env.dir, 'missing.slp') }, 404, /does not exist/],
      [{ path: fake }, 400, /not an HDF5 file/],
      [{ path: fakeZip }, 400, /not a zip archive/],
      [{ path: emptyDir }, 400, /holds no dataset/],
      [{ path: join(emptyDir, 'notes.txt') }, 400, /not a dataset/],
      [{}, 400, /invalid request body/],
    ];
    for (const [body, status, msg] of cases) {
      const r = await agent.api('/api/uploads', { body });
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.match(r.body.error.message, msg);
    }
    const bad = await fetch(`${agent.url}/api/uploads`, { method: 'POST', headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' }, body: '{nope' });
    assert.equal(bad.status, 400);
    assert.deepEqual(await keysViaBoto3(env.target, env.server.bucket), keysBefore);
    JSON.parse(await readFile(join(data, 'agent', 'ledger.json'), 'utf8'));
  });
});
