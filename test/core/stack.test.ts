import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnCli } from '../support/proc.js';

async function startStack(data: string) {
  const p = await spawnCli(['stack', '--data', data, '--store-port', '0', '--server-port', '0', '--agent-port', '0'], {
    waitFor: /store listening on (\S+)\nserver listening on (\S+)\nworker (\S+) registered in room \S+\nagent listening on (\S+) \(token in (\S+)\)\nroom (\S+): token and store keys in (\S+)\nstack ready/,
  });
  const [, storeUrl, serverUrl, workerId, agentUrl, agentTokenFile, room, secretsFile] = p.line;
  return { p, storeUrl, serverUrl, workerId, agentUrl, agentTokenFile, room, secretsFile };
}

test('sleap-rtc stack runs store, server, worker and agent on one data folder, keeps its secrets, stops on SIGTERM', async () => {
  const data = mkdtempSync(join(tmpdir(), 'stack-'));
  try {
    const s = await startStack(data);
    assert.equal(s.secretsFile, join(data, 'stack-secrets.json'));
    assert.equal(statSync(s.secretsFile).mode & 0o777, 0o600);
    const secrets = JSON.parse(readFileSync(s.secretsFile, 'utf8'));
    assert.equal(secrets.room_id, s.room);
    assert.equal(s.agentTokenFile, join(data, 'agent', 'token'));
    assert.equal(statSync(s.agentTokenFile).mode & 0o777, 0o600);
    const agentToken = readFileSync(s.agentTokenFile, 'utf8').trim();
    assert.equal((await fetch(`${s.agentUrl}/api/uploads`)).status, 401, 'the agent API needs its token');
    const listed = await fetch(`${s.agentUrl}/api/uploads`, { headers: { authorization: `Bearer ${agentToken}` } });
    assert.equal(listed.status, 200);

    const body = randomBytes(300_000);
    const auth = { authorization: `Bearer ${secrets.room_token}`, 'content-type': 'application/json' };
    const req = await (await fetch(`${s.serverUrl}/api/request-upload`, { method: 'POST', headers: auth, body: JSON.stringify({ file_name: 'x.pkg.slp', file_size: body.length }) })).json();
    assert.ok(req.urls[0].url.startsWith(s.storeUrl + '/'), 'presigned URLs point at the embedded store');
    const put = await fetch(req.urls[0].url, { method: 'PUT', body: body as Uint8Array<ArrayBuffer> });
    assert.equal(put.status, 200);
    const done = await (await fetch(`${s.serverUrl}/api/complete-upload`, { method: 'POST', headers: auth, body: JSON.stringify({ key: req.key, upload_id: req.upload_id, parts: [{ part_number: 1, etag: put.headers.get('etag') }] }) })).json();
    assert.equal(done.size, body.length);
    assert.equal(await s.p.stop('SIGTERM'), 0);

    // A second start on the same folder reuses the secrets and still serves the object.
    const again = await startStack(data);
    assert.deepEqual(JSON.parse(readFileSync(again.secretsFile, 'utf8')), secrets);
    assert.equal(again.workerId, s.workerId, 'the worker keeps its peer id across restarts');
    const dl = await (await fetch(`${again.serverUrl}/api/request-download`, { method: 'POST', headers: auth, body: JSON.stringify({ key: done.s3_path }) })).json();
    const got = Buffer.from(await (await fetch(dl.url)).arrayBuffer());
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(body).digest('hex'));
    assert.equal(await again.p.stop('SIGINT'), 0);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
