import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { loadConfig, portSchema } from '../../src/core/config.js';
import { isAppError } from '../../src/core/errors.js';

const schema = z.object({ port: portSchema.default(9000), accessKey: z.string().min(1), region: z.string().default('us-east-1') });

test('flags override the environment, which overrides the config file, which overrides defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ port: 1, accessKey: 'from-file', region: 'eu-west-1' }));
  const env = { SLEAP_RTC_PORT: '2', SLEAP_RTC_ACCESS_KEY: 'from-env' };
  assert.deepEqual(loadConfig(schema, { flags: { port: '3' }, env, file }), { port: 3, accessKey: 'from-env', region: 'eu-west-1' });
  assert.deepEqual(loadConfig(schema, { flags: {}, env: { SLEAP_RTC_CONFIG: file }, file: undefined }), { port: 1, accessKey: 'from-file', region: 'eu-west-1' });
});

test('a missing required value names the flag and the environment variable', () => {
  assert.throws(
    () => loadConfig(schema, { flags: {}, env: {} }),
    (e: unknown) => isAppError(e, 'config_invalid') && /--access-key/.test(e.message) && /SLEAP_RTC_ACCESS_KEY/.test(e.message),
  );
});

test('an unreadable or non-object config file is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '[1,2]');
  assert.throws(() => loadConfig(schema, { flags: { accessKey: 'k' }, env: {}, file: bad }), /must hold a JSON object/);
  assert.throws(() => loadConfig(schema, { flags: { accessKey: 'k' }, env: {}, file: join(dir, 'missing.json') }), /cannot read config file/);
});

test('ports out of range are refused', () => {
  assert.throws(() => loadConfig(schema, { flags: { port: '70000', accessKey: 'k' }, env: {} }), /port/);
});
