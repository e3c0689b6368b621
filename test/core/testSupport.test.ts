// The test harness's own rules: which S3 targets run (SLEAP_RTC_TEST_TARGETS), what counts as
// CI, and the one wait helper. A harness that lets a suite pass having checked nothing is a defect.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { inCI } from '../support/ci.js';
import { repoRoot } from '../support/proc.js';
import { s3Targets } from '../support/targets.js';
import { holdsFor, waitFor } from '../support/wait.js';

/** Runs `fn` with these environment variables set (undefined: unset), then puts them back. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const put = (v: Record<string, string | undefined>): void => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  put(vars);
  try {
    return fn();
  } finally {
    put(saved);
  }
}

describe('CI and the S3 targets', () => {
  test('CI is the variable set to anything but empty, 0 or false', () => {
    for (const v of [undefined, '', '0', 'false', 'FALSE', ' false ']) assert.equal(withEnv({ CI: v }, inCI), false, `CI=${JSON.stringify(v)}`);
    for (const v of ['true', '1', 'yes', 'TRUE']) assert.equal(withEnv({ CI: v }, inCI), true, `CI=${JSON.stringify(v)}`);
  });

  test('SLEAP_RTC_TEST_TARGETS narrows the targets; unset gives all of them', () => {
    const names = (v: string | undefined): string[] => withEnv({ CI: undefined, SLEAP_RTC_TEST_TARGETS: v }, () => s3Targets().map((t) => t.name));
    assert.deepEqual(names(undefined), ['embedded', 'rgw']);
    assert.deepEqual(names('embedded'), ['embedded']);
    assert.deepEqual(names(' rgw , embedded '), ['embedded', 'rgw']);
  });

  test('an empty or unknown SLEAP_RTC_TEST_TARGETS is refused, naming the valid targets', () => {
    const targets = (v: string) => () => withEnv({ CI: undefined, SLEAP_RTC_TEST_TARGETS: v }, s3Targets);
    for (const v of ['', ',', ' ']) assert.throws(targets(v), /SLEAP_RTC_TEST_TARGETS=".*" names no S3 target: give a comma-separated list of embedded, rgw/, JSON.stringify(v));
    assert.throws(targets('embeded'), /names "embeded", not an S3 target: give a comma-separated list of embedded, rgw, or unset it/);
    assert.throws(targets('embedded,minio'), /names "minio", not an S3 target/);
  });

  test('in CI any SLEAP_RTC_TEST_TARGETS is refused: CI runs every target', () => {
    assert.throws(() => withEnv({ CI: 'true', SLEAP_RTC_TEST_TARGETS: 'embedded' }, s3Targets), /for local runs only; CI runs them all/);
    assert.equal(withEnv({ CI: 'true', SLEAP_RTC_TEST_TARGETS: undefined }, s3Targets).length, 2);
  });

  test('a suite over the targets whose servers never start fails (it cannot pass having checked nothing)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', 'test/core/fixtures/targetSuiteThatStartsNothing.ts'], {
      cwd: repoRoot,
      // Without the parent runner's NODE_TEST_CONTEXT, which would make the child report to it.
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, CI: '', SLEAP_RTC_TEST_TARGETS: 'embedded' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stdout, /not ok \d+ - ran against every S3 target \(embedded\)/);
    assert.match(r.stdout, /S3 targets whose suite never started its server/);
  });
});

describe('waitFor and holdsFor', () => {
  test('waitFor returns the first value that is not undefined, null or false', async () => {
    const seq: unknown[] = [undefined, null, false, 0];
    assert.equal(await waitFor(() => seq.shift(), 'a value', 5000, { intervalMs: 1 }), 0);
    let n = 0;
    assert.equal(await waitFor(async () => ++n >= 3, 'three checks', 5000, { intervalMs: 1 }), true);
  });

  test('waitFor ends at once when the condition throws, and says what it waited for on a timeout', async () => {
    await assert.rejects(waitFor(() => { throw new Error('cannot happen any more'); }, 'x', 60_000), /cannot happen any more/);
    await assert.rejects(waitFor(() => false, 'the moon', 50, { intervalMs: 10, lastSeen: () => 'clouds' }), /timed out after 50 ms waiting for the moon; last seen: clouds/);
  });

  test('holdsFor passes while the condition holds and fails at the first check where it does not', async () => {
    await holdsFor(() => true, 'always', 30, { intervalMs: 5 });
    let n = 0;
    await assert.rejects(holdsFor(() => ++n < 3, 'a short streak', 60_000, { intervalMs: 1, lastSeen: () => `n=${n}` }), /a short streak stopped holding .* into a 60000 ms window; last seen: n=3/);
  });
});
