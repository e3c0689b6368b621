import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentToken } from '../../src/agent/main.js';

test('the agent token is made once, 0600, and kept across restarts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'token-'));
  const a = agentToken(dir);
  assert.ok(a.token.length >= 32);
  assert.equal(statSync(a.file).mode & 0o777, 0o600);
  assert.deepEqual(agentToken(dir), a);
});

test('regression: an empty or cut-short token file is replaced, not served (it locked every client out)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'token-'));
  writeFileSync(join(dir, 'token'), '');
  const a = agentToken(dir);
  assert.ok(a.token.length >= 32);
  assert.equal(readFileSync(a.file, 'utf8').trim(), a.token);
  writeFileSync(join(dir, 'token'), 'abc\n');
  assert.notEqual(agentToken(dir).token, 'abc');
});
