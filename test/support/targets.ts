import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inCI } from './ci.js';
import type { S3Target } from './rgw.js';

export type { S3Target };

export interface TargetFactory {
  name: 'embedded' | 'rgw';
  /** `built`: run the embedded store from dist/cli.js (benchmarks), not the sources. */
  start(opts?: { built?: boolean }): Promise<S3Target>;
}

const ALL: TargetFactory[] = [
  { name: 'embedded', start: async (opts) => (await import('./store.js')).startEmbeddedStore({ built: opts?.built }) },
  {
    name: 'rgw',
    start: async () => {
      const { rgwAvailable, startRgw } = await import('./rgw.js');
      if (!rgwAvailable()) throw new Error('Ceph RADOS Gateway is not installed (/usr/bin/radosgw): run `bash scripts/ci-install.sh` as root, then the tests again');
      return startRgw();
    },
  },
];

/**
 * The S3 servers every S3-facing suite runs against: the embedded store and Ceph RGW.
 * A missing radosgw is a failure, not a skip: `bash scripts/ci-install.sh` installs it.
 * SLEAP_RTC_TEST_TARGETS (comma-separated names) narrows them for a local run; a value naming no
 * target or an unknown one is refused (it would leave the suites nothing to check), and so is any
 * value in CI, which runs them all.
 */
export function s3Targets(): TargetFactory[] {
  const raw = process.env.SLEAP_RTC_TEST_TARGETS;
  if (raw === undefined) return ALL;
  const names = ALL.map((t) => t.name);
  const only = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((n) => !(names as string[]).includes(n));
  if (only.length === 0 || unknown.length > 0) {
    const what = only.length === 0 ? 'names no S3 target' : `names ${unknown.map((n) => `"${n}"`).join(', ')}, not an S3 target`;
    throw new Error(`SLEAP_RTC_TEST_TARGETS=${JSON.stringify(raw)} ${what}: give a comma-separated list of ${names.join(', ')}, or unset it to run them all`);
  }
  if (inCI()) throw new Error('SLEAP_RTC_TEST_TARGETS narrows the S3 targets for local runs only; CI runs them all');
  return ALL.filter((t) => only.includes(t.name));
}

/**
 * What every suite that runs against the S3 targets uses: `register` is called once per target
 * (it calls describe and starts the server with `factory.start()`), then one last test fails
 * unless every target's server was started, so a suite never passes having checked nothing.
 */
export function forEachS3Target(register: (factory: TargetFactory) => void): void {
  const factories = s3Targets();
  const started = new Set<string>();
  for (const f of factories) {
    register({
      name: f.name,
      start: async (opts) => {
        const target = await f.start(opts);
        started.add(f.name);
        return target;
      },
    });
  }
  const names = factories.map((f) => f.name);
  test(`ran against every S3 target (${names.join(', ') || 'none'})`, () => {
    assert.ok(names.length > 0, 'no S3 target to run against');
    assert.deepEqual(names.filter((n) => !started.has(n)), [], 'S3 targets whose suite never started its server (no test of theirs ran)');
  });
}
