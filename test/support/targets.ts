import type { S3Target } from './rgw.js';

export type { S3Target };

export interface TargetFactory {
  name: 'embedded' | 'rgw';
  /** `built`: run the embedded store from dist/cli.js (benchmarks), not the sources. */
  start(opts?: { built?: boolean }): Promise<S3Target>;
}

/**
 * The S3 servers every S3-facing suite runs against: the embedded store and Ceph RGW.
 * A missing radosgw is a failure, not a skip: `bash scripts/ci-install.sh` installs it.
 */
export function s3Targets(): TargetFactory[] {
  const only = process.env.SLEAP_RTC_TEST_TARGETS?.split(',').filter(Boolean);
  if (only && process.env.CI) throw new Error('SLEAP_RTC_TEST_TARGETS narrows the S3 targets for local runs only; CI runs them all');
  const all: TargetFactory[] = [
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
  return only ? all.filter((t) => only.includes(t.name)) : all;
}
