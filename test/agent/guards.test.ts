// The agent's guards as an HTTP client sees them, with curl (an independent client; argv arrays,
// no shell): the token only from the Authorization header, Host and Sec-Fetch-Site refused,
// body limits, strict bodies naming the unknown field, and --allowed-roots (real paths, so a
// symlink out of a root is outside it). Against a real agent process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startEmbeddedStore } from '../support/store.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { waitFor } from '../support/wait.js';
import { runCli, startAgentProcess, startAgentTestEnv, type AgentProcess, type AgentTestEnv } from './support/env.js';

const PAGE = 'http://localhost:8888';

describe('agent guards (curl): token, Host, Sec-Fetch-Site, limits, strict bodies, --allowed-roots', () => {
  let env: AgentTestEnv;
  let agent: AgentProcess;
  let root: string;
  let outside: string;

  /** curl's answer: status and the body parsed when it is JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests read the error fields they expect; a missing one fails the assertion
  const curl = async (path: string, args: string[] = [], opts: { token?: boolean } = {}): Promise<{ status: number; body: any; text: string }> => {
    const auth = opts.token === false ? [] : ['-H', `Authorization: Bearer ${agent.token}`];
    const { stdout } = await promisify(execFile)('curl', ['-sS', '--max-time', '20', '-w', '\n%{http_code}', ...auth, ...args, agent.url + path], { maxBuffer: 8 << 20 });
    const cut = stdout.lastIndexOf('\n');
    const text = stdout.slice(0, cut);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: Number(stdout.slice(cut + 1)), body, text };
  };
  const json = (value: unknown) => ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(value)];
  const watched = async () => ((await agent.api('/api/watches')).body.watches as { path: string }[]).map((w) => w.path);

  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    root = join(env.dir, 'root');
    outside = join(env.dir, 'outside');
    await mkdir(join(root, 'sub'), { recursive: true });
    await mkdir(join(outside, 'folder'), { recursive: true });
    await writeSyntheticSlp(join(outside, 'secret.slp'), { frames: 2, instancesPerFrame: 1, nodes: 2 });
    await symlink(join(outside, 'secret.slp'), join(root, 'link.slp'));
    await symlink(join(outside, 'folder'), join(root, 'linked-folder'));
    agent = await startAgentProcess({ ...env.env, SLEAP_RTC_ROOM: 'lab' }, join(env.dir, 'data'), ['--allowed-origins', PAGE, '--allowed-roots', `${root},${join(env.dir, 'data')}`, '--watch-stability', '0.2']);
  });
  after(async () => {
    await agent?.proc.stop();
    await env?.stop();
    await env?.target.stop();
  });

  test('no token: 401 on every /api route and verb; /health, /openapi.json and /docs need none', async () => {
    for (const [method, path] of [['GET', '/api/uploads'], ['POST', '/api/watches'], ['DELETE', '/api/watches'], ['GET', '/api/events'], ['POST', '/api/jobs'], ['GET', '/api/models']]) {
      const r = await curl(path, ['-X', method], { token: false });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.equal(r.body.error.code, 'unauthorized');
      assert.match(r.body.error.message, /Authorization: Bearer <token>/);
    }
    for (const path of ['/health', '/openapi.json', '/docs', '/docs/init.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']) assert.equal((await curl(path, [], { token: false })).status, 200, path);
  });

  test('the token is taken from the Authorization header only: never from a cookie or the query string', async () => {
    const before = await watched();
    const t = encodeURIComponent(agent.token);
    const tries: [string, string[]][] = [
      ['/api/uploads', ['-H', `Cookie: token=${agent.token}; sleap_rtc_token=${agent.token}; authorization=Bearer%20${t}`]],
      [`/api/uploads?token=${t}`, []],
      [`/api/uploads?access_token=${t}`, []],
      [`/api/uploads?authorization=Bearer%20${t}`, []],
      [`/api/watches?token=${t}`, json({ path: join(root, 'sub') })],
      ['/api/watches', ['-H', `Cookie: token=${agent.token}`, ...json({ path: join(root, 'sub') })]],
    ];
    for (const [path, args] of tries) {
      const r = await curl(path, args, { token: false });
      assert.equal(r.status, 401, `${path} ${args.join(' ')}`);
    }
    assert.deepEqual(await watched(), before, 'no watch was added');
  });

  test('a Host that is not the agent\'s (DNS rebinding) gets 403, on /api, /docs and /health alike', async () => {
    for (const path of ['/api/uploads', '/docs', '/health', '/openapi.json']) {
      for (const host of ['evil.example', `evil.example:${agent.port}`, `127.0.0.1:${agent.port + 1}`]) {
        const r = await curl(path, ['-H', `Host: ${host}`]);
        assert.equal(r.status, 403, `${path} Host ${host}`);
        assert.match(r.body.error.message, /Host .* is not allowed/);
      }
    }
    assert.equal((await curl('/api/uploads', ['-H', `Host: localhost:${agent.port}`])).status, 200);
  });

  test('Sec-Fetch-Site cross-site or same-site is refused (403), even with the token, unless its Origin is allow-listed', async () => {
    for (const site of ['cross-site', 'same-site']) {
      for (const path of ['/api/uploads', '/docs', '/health']) {
        const r = await curl(path, ['-H', `Sec-Fetch-Site: ${site}`]);
        assert.equal(r.status, 403, `${site} ${path}`);
        assert.match(r.body.error.message, new RegExp(`Sec-Fetch-Site: ${site}.*--allowed-origins`));
      }
      assert.equal((await curl('/api/uploads', ['-H', `Sec-Fetch-Site: ${site}`, '-H', `Origin: ${PAGE}`])).status, 200, `${site} from the allow-listed origin`);
      assert.equal((await curl('/api/uploads', ['-H', `Sec-Fetch-Site: ${site}`, '-H', 'Origin: http://localhost:9999'])).status, 403, `${site} from another origin`);
    }
    for (const site of ['same-origin', 'none']) assert.equal((await curl('/docs', ['-H', `Sec-Fetch-Site: ${site}`], { token: false })).status, 200, site);
    // The agent's own origin (its /docs page posting) is no foreign Origin.
    assert.equal((await curl('/api/uploads', ['-H', `Origin: http://127.0.0.1:${agent.port}`])).status, 200);
  });

  test('an oversized body gets 413; invalid JSON, an unknown field or a form post get 400 / 415 naming what is wrong', async () => {
    const big = await curl('/api/watches', json({ path: join(root, 'sub'), pad: 'x'.repeat(100 * 1024) }));
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'too_large');
    const bad = await curl('/api/watches', ['-H', 'Content-Type: application/json', '--data-binary', '{"path": "/x",']);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /not valid JSON/);
    const cases: [string, unknown, RegExp][] = [
      ['/api/watches', { path: join(root, 'sub'), auto_uplaod: false }, /auto_uplaod: unknown field/],
      ['/api/uploads', { path: join(root, 'link.slp'), force: true }, /force: unknown field/],
      ['/api/jobs', { dataset: 's3://sleap-rtc/x.slp', workr: 'w1' }, /workr: unknown field/],
      ['/api/models/m1/download', { dest: root, overwrite: true }, /overwrite: unknown field/],
      ['/api/jobs/job-1/commands', { command: 'pause', now: true }, /now: unknown field/],
    ];
    for (const [path, body, message] of cases) {
      const r = await curl(path, json(body));
      assert.equal(r.status, 400, `${path} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'bad_request');
      assert.match(r.body.error.message, message);
    }
    const form = await curl('/api/watches', ['--data-urlencode', `path=${join(root, 'sub')}`]);
    assert.equal(form.status, 415);
    const plain = await curl('/api/watches', ['-H', 'Content-Type: text/plain', '--data-binary', JSON.stringify({ path: join(root, 'sub') })]);
    assert.equal(plain.status, 415);
    assert.deepEqual(await watched(), [], 'none of them added a watch');
  });

  test('--allowed-roots: paths outside the roots, also through a symlink, are refused naming the roots and the flag', async () => {
    const refused = (r: { status: number; body: { error: { code: string; message: string } } }, what: string) => {
      assert.equal(r.status, 403, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'forbidden');
      assert.ok(r.body.error.message.includes(root), `${what}: the message names the roots`);
      assert.match(r.body.error.message, /--allowed-roots/, what);
    };
    refused(await curl('/api/uploads', json({ path: join(outside, 'secret.slp') })), 'upload outside');
    refused(await curl('/api/uploads', json({ path: join(root, 'link.slp') })), 'upload through a symlink');
    refused(await curl('/api/uploads', json({ path: join(root, '..', 'outside', 'secret.slp') })), 'upload with ..');
    refused(await curl('/api/watches', json({ path: join(outside, 'folder') })), 'watch outside');
    refused(await curl('/api/watches', json({ path: join(root, 'linked-folder') })), 'watch a symlinked folder');
    refused(await curl('/api/jobs', json({ dataset: join(root, 'link.slp') })), 'job dataset through a symlink');
    refused(await curl('/api/models/m1/download', json({ dest: join(outside, 'models') })), 'download outside');
    refused(await curl('/api/models/m1/download', json({ dest: join(root, 'linked-folder', 'new', 'models') })), 'download under a symlinked folder, not yet made');
    assert.deepEqual((await agent.api('/api/uploads')).body.uploads, [], 'nothing was uploaded');
    // Inside a root: the roots let it through (the download then fails on the unknown model, not on the roots).
    const inside = await curl('/api/models/no-such-model/download', json({ dest: join(root, 'models') }));
    assert.notEqual(inside.status, 403, JSON.stringify(inside.body));
    assert.equal((await curl('/api/watches', json({ path: join(root, 'sub') }))).status, 201);
    assert.deepEqual(await watched(), [join(root, 'sub')]);
  });

  test('--allowed-roots: a symlink dropped into a watched folder that points outside is not uploaded', async () => {
    await agent.api('/api/watches', { body: { path: join(root, 'sub') } });
    await symlink(join(outside, 'secret.slp'), join(root, 'sub', 'escape.slp'));
    await waitFor(() => agent.proc.stderrTail().includes('escape.slp') && /watched file refused.*outside this agent's allowed roots/.test(agent.proc.stderrTail()), 'the agent refusing the symlinked file');
    assert.deepEqual((await agent.api('/api/uploads')).body.uploads, []);
  });

  test('--allowed-roots naming a folder that does not exist: the agent does not start, and says which and why', async () => {
    const r = await runCli(['agent', '--port', '0', '--data', join(env.dir, 'data-bad-roots'), '--allowed-roots', join(env.dir, 'no-such-root')], env.env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--allowed-roots: .*no-such-root cannot be used as a root \(ENOENT\); give existing folders/);
  });

  test('--allowed-roots: a dataset inside a root is uploaded', async () => {
    await writeSyntheticSlp(join(root, 'ok.slp'), { frames: 2, instancesPerFrame: 1, nodes: 2 });
    const r = await curl('/api/uploads', json({ path: join(root, 'ok.slp') }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await waitFor(() => agent.api(`/api/uploads/${r.body.id}`).then((u) => u.body.state === 'completed'), 'the upload inside the root completing');
  });
});
