// The agent API's answers to requests it cannot serve as sent: each names the header, the limit
// or the methods, so a notebook user writing raw requests knows what to change. Against a real
// agent process over HTTP.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEmbeddedStore } from '../support/store.js';
import { startAgentProcess, startAgentTestEnv, type AgentProcess, type AgentTestEnv } from './support/env.js';

describe('agent API manners: 415, 413, 405', () => {
  let env: AgentTestEnv;
  let agent: AgentProcess;
  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    agent = await startAgentProcess(env.env, join(env.dir, 'data'));
  });
  after(async () => {
    await agent?.proc.stop();
    await env?.stop();
    await env?.target.stop();
  });

  const raw = async (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) => {
    const res = await fetch(agent.url + path, { ...init, headers: { authorization: `Bearer ${agent.token}`, ...init.headers } });
    const text = await res.text();
    return { status: res.status, allow: res.headers.get('allow'), body: text ? JSON.parse(text) : undefined };
  };

  test('a body that is not JSON gets 415 naming the header (not a missing field)', async () => {
    for (const [type, what] of [['text/plain', /sent as text\/plain/], ['application/x-www-form-urlencoded', /sent as application\/x-www-form-urlencoded/], [undefined, /without a Content-Type/]] as const) {
      const headers: Record<string, string> = type ? { 'content-type': type } : {};
      // fetch gives a string body text/plain by default: a Blob without a type sends none.
      const body = type ? JSON.stringify({ path: '/tmp/x.slp' }) : new Blob([JSON.stringify({ path: '/tmp/x.slp' })]);
      const r = await raw('/api/uploads', { method: 'POST', headers, body });
      assert.equal(r.status, 415, `Content-Type ${type}`);
      assert.equal(r.body.error.code, 'unsupported_media_type');
      assert.match(r.body.error.message, /must be JSON with the header Content-Type: application\/json/);
      assert.match(r.body.error.message, what);
    }
    // JSON with a charset is JSON; a POST without a body (pause) needs no type.
    const ok = await raw('/api/watches', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ path: 'relative/not/allowed' }) });
    assert.notEqual(ok.status, 415);
    const pause = await raw('/api/uploads/no-such-upload/pause', { method: 'POST' });
    assert.equal(pause.status, 404, 'a bodiless POST reaches its route');
  });

  test('a body over the limit gets 413 stating its size and the limit', async () => {
    const r = await raw('/api/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dataset: 'x.slp', config: { pad: 'x'.repeat(100 * 1024) } }) });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'too_large');
    assert.match(r.body.error.message, /too large \(100 KiB\): this API takes at most 64\.0 KiB/);
  });

  test('a served path with another method gets 405 with Allow; an unknown path stays 404', async () => {
    const cases: [string, string, string][] = [
      ['PUT', '/api/uploads', 'GET, POST, HEAD'],
      ['DELETE', '/api/jobs/job-1', 'GET, HEAD'],
      ['GET', '/api/jobs/job-1/commands', 'POST'],
      ['PATCH', '/api/watches', 'GET, POST, DELETE, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const r = await raw(path, { method });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.body.error.code, 'method_not_allowed');
      assert.deepEqual(new Set(r.allow?.split(', ')), new Set(allow.split(', ')), `${method} ${path}: Allow`);
      assert.match(r.body.error.message, new RegExp(`^${path.replace(/\//g, '\\/')} takes .+, not ${method}$`));
    }
    const unknown = await raw('/api/nothing-here');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
  });
});
