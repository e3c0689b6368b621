// The agent against a hostile page in a real browser (Debian's Chromium through playwright-core),
// the attacks of Ray's CVE-2023-48022 / CVE-2025-62593 and of Jupyter's and MLflow's fixes: a page
// on another localhost port tries fetch with and without credentials (the token even sits in a
// cookie for the agent's host, as a careless client might leave it), a text/plain form POST, a
// DELETE, an EventSource, <img>/<iframe> loads of the token-free routes, and a DNS-rebinding page
// whose name resolves to 127.0.0.1 (so the browser sends the agent a foreign Host). The page must
// read nothing, every answer the agent gives it is a 403, and the agent's state is unchanged.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, type Browser } from '../support/vscode/browser.js';
import { startEmbeddedStore } from '../support/store.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { startAgentProcess, startAgentTestEnv, type AgentProcess, type AgentTestEnv } from './support/env.js';

const REBIND = 'rebind.test';

/**
 * The hostile page's own script (served by its server, as an attacker's would be): every attempt
 * against the agent at `base`, each recorded with what the page could read of the answer.
 */
const ATTACK_JS = `
window.attack = async (base, token, watch, dataset) => {
  const out = [];
  const folder = dataset.replace(/\\/[^/]+$/, '');
  const q = '?token=' + encodeURIComponent(token);
  async function tryFetch(what, url, init) {
    try {
      const res = await fetch(url, init);
      out.push({ what, read: res.type === 'opaque' ? null : res.status + ' ' + (await res.text()) });
    } catch {
      out.push({ what, read: null });
    }
  }
  await tryFetch('GET /api/uploads', base + '/api/uploads', {});
  await tryFetch('GET /api/uploads with credentials', base + '/api/uploads', { credentials: 'include' });
  await tryFetch('GET /api/uploads?token=', base + '/api/uploads' + q, { credentials: 'include' });
  await tryFetch('GET /openapi.json', base + '/openapi.json', {});
  await tryFetch('GET /health', base + '/health', { credentials: 'include' });
  // "Simple" requests (no preflight): text/plain bodies that are JSON, as a form would send.
  await tryFetch('no-cors POST /api/watches', base + '/api/watches' + q, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ path: folder }) });
  await tryFetch('no-cors POST /api/uploads', base + '/api/uploads', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ path: dataset }) });
  await tryFetch('DELETE /api/watches', base + '/api/watches', { method: 'DELETE', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: watch }) });
  await tryFetch('POST /api/uploads with the bearer', base + '/api/uploads', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token }, body: JSON.stringify({ path: dataset }) });
  // A text/plain form POST into a frame: its body is {"path":"...","x":"="}, valid JSON.
  const frame = document.createElement('iframe');
  // A name of its own per run: a second frame named alike would never be the target.
  frame.name = 'sink-' + base.replace(/\\W/g, '');
  document.body.append(frame);
  for (const route of ['/api/uploads', '/api/watches']) {
    const form = document.createElement('form');
    form.method = 'POST';
    form.enctype = 'text/plain';
    form.action = base + route + q;
    form.target = frame.name;
    const input = document.createElement('input');
    input.name = '{"path":' + JSON.stringify(route === '/api/uploads' ? dataset : folder) + ',"x":"';
    input.value = '"}';
    form.append(input);
    document.body.append(form);
    const loaded = new Promise((r) => frame.addEventListener('load', r, { once: true }));
    form.submit();
    await loaded;
    let read = null;
    try { read = frame.contentDocument?.body?.textContent ?? null; } catch { read = null; }
    out.push({ what: 'text/plain form POST ' + route, read });
  }
  // Event streams, with credentials and with the token in the query.
  for (const url of [base + '/api/events', base + '/api/events' + q]) {
    const got = await new Promise((resolve) => {
      const es = new EventSource(url, { withCredentials: true });
      es.onmessage = (e) => { es.close(); resolve(String(e.data)); };
      es.onerror = () => { es.close(); resolve(null); };
    });
    out.push({ what: 'EventSource ' + url, read: got });
  }
  // The token-free routes as subresources (no Origin header: Sec-Fetch-Site refuses them).
  const img = await new Promise((resolve) => {
    const i = new Image();
    i.onload = () => resolve('loaded');
    i.onerror = () => resolve(null);
    i.src = base + '/docs/favicon-32x32.png';
  });
  out.push({ what: '<img> /docs/favicon-32x32.png', read: img });
  const docs = document.createElement('iframe');
  const docsLoaded = new Promise((r) => docs.addEventListener('load', r, { once: true }));
  docs.src = base + '/docs';
  document.body.append(docs);
  await docsLoaded;
  let docsRead = null;
  try { docsRead = docs.contentDocument?.body?.textContent ?? null; } catch { docsRead = null; }
  out.push({ what: '<iframe> /docs', read: docsRead });
  return out.map((o) => ({ ...o, what: base + ' ' + o.what }));
};
`;

interface Attempt {
  what: string;
  /** What the page could read of the answer: null when nothing. */
  read: string | null;
}

describe('the agent against a hostile page in Chromium', () => {
  let env: AgentTestEnv;
  let agent: AgentProcess;
  let browser: Browser;
  let evil: Server;
  let evilPort: number;
  let watch: string;
  let dataset: string;
  const agentAnswers: { url: string; method: string; status: number }[] = [];

  const state = async () => ({ uploads: (await agent.api('/api/uploads')).body.uploads, watches: (await agent.api('/api/watches')).body.watches });

  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    agent = await startAgentProcess({ ...env.env, SLEAP_RTC_ROOM: 'lab' }, join(env.dir, 'data'));
    watch = join(env.dir, 'watched');
    await mkdir(watch);
    dataset = join(env.dir, 'mice.slp');
    await writeSyntheticSlp(dataset, { frames: 2, instancesPerFrame: 1, nodes: 2 });
    assert.equal((await agent.api('/api/watches', { body: { path: watch } })).status, 201);
    evil = createServer((req, res) => {
      if (req.url === '/attack.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(ATTACK_JS);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>a page on another port</title><body><script src="/attack.js"></script></body>');
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    evilPort = (evil.address() as AddressInfo).port;
    // Chromium's Local Network Access checks would stop some of these in the browser already; they
    // are off so that the agent's own guards are what is tested (other browsers, older versions,
    // and a user who grants a page local-network access have none).
    browser = await launchBrowser({ args: [`--host-resolver-rules=MAP ${REBIND} 127.0.0.1`, '--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,BlockInsecurePrivateNetworkRequests'] });
    browser.context.on('response', (res) => {
      if (new URL(res.url()).port === String(agent.port)) agentAnswers.push({ url: res.url(), method: res.request().method(), status: res.status() });
    });
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => evil?.close(r));
    await agent?.proc.stop();
    await env?.stop();
    await env?.target.stop();
  });

  test('a page on another localhost port reads nothing and changes nothing', { timeout: 60_000 }, async () => {
    const before = await state();
    assert.deepEqual(before.uploads, []);
    // The token in a cookie for the agent's hosts: the agent must not take it from there.
    await browser.context.addCookies(['127.0.0.1', 'localhost'].flatMap((domain) => ['token', 'authorization'].map((name) => ({ name, value: name === 'token' ? agent.token : `Bearer ${agent.token}`, domain, path: '/' }))));
    const { page } = browser;
    await page.goto(`http://localhost:${evilPort}/`);
    await page.waitForFunction(() => 'attack' in window);
    const attempts: Attempt[] = [];
    // 127.0.0.1:<agent> is cross-site from localhost:<other>, localhost:<agent> same-site.
    for (const base of [`http://127.0.0.1:${agent.port}`, `http://localhost:${agent.port}`]) {
      attempts.push(
        ...(await page.evaluate(([b, t, w, d]) => (window as unknown as { attack: (...a: string[]) => Promise<Attempt[]> }).attack(b, t, w, d), [base, agent.token, watch, dataset])),
      );
    }
    assert.deepEqual(attempts.filter((a) => a.read !== null), [], 'the page read none of the answers');
    assert.equal(attempts.length, 2 * 15);
    assert.deepEqual(await state(), before, "the agent's uploads and watches are unchanged");
    // The agent itself refused them, not only the browser's CORS: each answer it gave was a 403.
    // (Answers that CORS withholds from the page, playwright does not report either; for those
    // the page read nothing, and guards.test.ts has the agent's statuses.)
    assert.deepEqual(agentAnswers.filter((a) => a.status !== 403), [], 'every answer of the agent to the page was 403');
    for (const [method, path] of [['POST', '/api/uploads'], ['POST', '/api/watches'], ['GET', '/docs']]) {
      for (const host of [`127.0.0.1:${agent.port}`, `localhost:${agent.port}`]) {
        assert.ok(agentAnswers.some((a) => a.method === method && new URL(a.url).host === host && new URL(a.url).pathname === path), `the agent answered ${method} http://${host}${path}`);
      }
    }
  });

  test('DNS rebinding: a page whose name resolves to 127.0.0.1 reaches the agent with its own Host and is refused', { timeout: 60_000 }, async () => {
    const before = await state();
    agentAnswers.length = 0;
    const origin = `http://${REBIND}:${agent.port}`;
    const page = await browser.context.newPage();
    try {
      // The attacker's page as its own server sent it; the name then "rebinds" to 127.0.0.1
      // (the resolver rule), so the page's same-origin requests go to the agent.
      await page.route(`${origin}/attack`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>rebinding</title>' }));
      await page.goto(`${origin}/attack`);
      const answers = await page.evaluate(async (dataset) => {
        const out: { what: string; status: number; text: string }[] = [];
        for (const [what, path, init] of [
          ['GET /health', '/health', {}],
          ['GET /openapi.json', '/openapi.json', {}],
          ['GET /docs', '/docs', {}],
          ['GET /api/uploads', '/api/uploads', {}],
          ['POST /api/uploads', '/api/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: dataset }) }],
          ['DELETE /api/watches', '/api/watches', { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{}' }],
        ] as [string, string, RequestInit][]) {
          const res = await fetch(path, init);
          out.push({ what, status: res.status, text: await res.text() });
        }
        return out;
      }, dataset);
      assert.equal(answers.length, 6);
      for (const a of answers) {
        assert.equal(a.status, 403, `${a.what}: ${a.text}`);
        assert.match(a.text, new RegExp(`Host \\\\?"${REBIND}:${agent.port}\\\\?" is not allowed`), a.what);
        assert.doesNotMatch(a.text, /openapi|version|uploads"|swagger/i, `${a.what}: nothing of the agent's state or docs`);
      }
      const fromAgent = agentAnswers.filter((a) => new URL(a.url).pathname !== '/attack');
      assert.ok(fromAgent.length >= 6 && fromAgent.every((a) => a.status === 403), JSON.stringify(fromAgent));
      assert.deepEqual(await state(), before);
    } finally {
      await page.close();
    }
  });
});
