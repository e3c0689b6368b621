import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { repoRoot } from '../support/proc.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { cwd: repoRoot, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// These run the bundled CLI (dist/cli.js), built by `npm test` before the tests.
test('sleap-rtc --help lists the subcommands', () => {
  const r = cli(['--help']);
  assert.equal(r.status, 0);
  for (const sub of ['store', 'server']) assert.match(r.stdout, new RegExp(`^\\s+${sub}\\b`, 'm'));
});

test('sleap-rtc server --help lists its flags', () => {
  const r = cli(['server', '--help']);
  assert.equal(r.status, 0);
  for (const flag of ['--port', '--s3-endpoint', '--rooms', '--url-ttl', '--part-size', '--config']) assert.ok(r.stdout.includes(flag), flag);
});

test('sleap-rtc server --help describes signaling as part of the server and lists its flags', () => {
  const r = cli(['server', '--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /signaling \(WebSocket rooms at \/ws\)/);
  assert.doesNotMatch(r.stdout, /later/);
  for (const flag of ['--ping-interval', '--peer-timeout', '--allowed-origins']) assert.ok(r.stdout.includes(flag), flag);
});

test('the signaling flags reach the config: a ping interval below its minimum exits 2 naming the flag', () => {
  const r = cli(['server', '--port', '0', '--rooms', 'lab=0123456789abcdef0123', '--ping-interval', '0.01'], { SLEAP_RTC_S3_ACCESS_KEY: 'k', SLEAP_RTC_S3_SECRET_KEY: 's', SLEAP_RTC_PING_INTERVAL: '', SLEAP_RTC_CONFIG: '' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /pingInterval \(flag --ping-interval or SLEAP_RTC_PING_INTERVAL\)/);
});

test('a server with no rooms exits 2 and says how to give them', () => {
  const r = cli(['server', '--port', '0'], { SLEAP_RTC_S3_ACCESS_KEY: 'k', SLEAP_RTC_S3_SECRET_KEY: 's', SLEAP_RTC_ROOMS: '', SLEAP_RTC_CONFIG: '' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /no rooms configured: give --rooms/);
});

test('missing S3 credentials name the flag and the environment variable', () => {
  const r = cli(['server', '--port', '0', '--rooms', 'lab=0123456789abcdef0123'], { SLEAP_RTC_S3_ACCESS_KEY: '', SLEAP_RTC_S3_SECRET_KEY: '', SLEAP_RTC_CONFIG: '' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--s3-access-key or SLEAP_RTC_S3_ACCESS_KEY/);
});

test('an unknown subcommand fails with usage help', () => {
  const r = cli(['teleport']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown command/);
});
