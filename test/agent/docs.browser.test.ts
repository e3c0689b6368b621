// GET /docs in a real browser (Debian's Chromium through playwright-core), served by the bundled
// CLI the .vsix ships (dist/bundled/, so node scripts/build.mjs first): Swagger UI renders the
// routes of /openapi.json with every request staying on the agent (nothing fetched from anywhere
// else, no CSP violation), and "Try it out" is refused without the token and answered with it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DOCS_FILES } from '../../src/agent/docs.js';
import { repoRoot } from '../support/proc.js';
import { launchBrowser, type Browser } from '../support/vscode/browser.js';
import { startEmbeddedStore } from '../support/store.js';
import { startAgentProcess, startAgentTestEnv, type AgentProcess, type AgentTestEnv } from './support/env.js';

describe('/docs in Chromium (the bundled agent)', () => {
  let env: AgentTestEnv;
  let agent: AgentProcess;
  let browser: Browser;
  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    agent = await startAgentProcess({ ...env.env, SLEAP_RTC_ROOM: 'lab' }, join(env.dir, 'data'), [], 'bundled');
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await agent?.proc.stop();
    await env?.stop();
    await env?.target.stop();
  });

  test('the build puts the page\'s files beside both CLIs (dist/docs, dist/bundled/docs: the .vsix takes the latter)', () => {
    for (const dir of ['dist/docs', 'dist/bundled/docs']) for (const f of [...DOCS_FILES.swagger, ...DOCS_FILES.ours]) assert.ok(existsSync(join(repoRoot, dir, f)), `${dir}/${f}`);
  });

  test('/docs has a strict CSP and needs no token', async () => {
    const res = await fetch(`${agent.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const d of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(d), `CSP has ${d}: ${csp}`);
    assert.doesNotMatch(csp, /https?:|\*/, 'no remote source in the CSP');
    const html = await res.text();
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, 'no inline script');
    assert.doesNotMatch(html, /https?:\/\//, 'the page names nothing remote');
  });

  test('renders the routes from /openapi.json, with no request leaving the agent and no CSP violation', { timeout: 60_000 }, async () => {
    const page = await browser.context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => void requests.push(r.url()));
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    page.on('pageerror', (e) => void problems.push(String(e)));
    try {
      await page.goto(`${agent.url}/docs`);
      for (const path of ['/api/jobs', '/api/uploads/{id}', '/api/models/{id}/download', '/health']) await page.locator(`.opblock-summary-path[data-path="${path}"]`).first().waitFor({ timeout: 20_000 });
      assert.ok(requests.some((u) => u.endsWith('/openapi.json')), 'the page read /openapi.json');
      const elsewhere = requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== agent.url);
      assert.deepEqual(elsewhere, [], 'requests that left the agent');
      assert.deepEqual(problems, [], 'console errors (a CSP violation would be one)');
    } finally {
      await page.close();
    }
  });

  test('"Try it out": 401 without the token, 200 after Authorize with it', { timeout: 60_000 }, async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${agent.url}/docs`);
      const op = page.locator('.opblock-get', { has: page.locator('.opblock-summary-path[data-path="/api/uploads"]') });
      await op.locator('.opblock-summary').click();
      await op.locator('.try-out__btn').click();
      const execute = async () => {
        const answer = page.waitForResponse((r) => r.url() === `${agent.url}/api/uploads` && r.request().method() === 'GET');
        await op.locator('.execute').click();
        const res = await answer;
        return { status: res.status(), body: (await res.json()) as unknown };
      };
      const without = await execute();
      assert.equal(without.status, 401);
      assert.match(JSON.stringify(without.body), /Authorization: Bearer/);
      await page.locator('.auth-wrapper .authorize').click();
      await page.locator('.modal-ux input[type=text]').fill(agent.token);
      await page.locator('.modal-ux .auth-btn-wrapper .authorize').click();
      await page.locator('.modal-ux .btn-done').click();
      const withToken = await execute();
      assert.equal(withToken.status, 200);
      assert.deepEqual(withToken.body, { uploads: [] });
    } finally {
      await page.close();
    }
  });
});
