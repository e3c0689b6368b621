/**
 * The one rule for "this run is CI": the environment variable CI set to anything but empty, `0`
 * or `false` (CI services set CI=true; `.ci/run` exports it too). In CI nothing may be narrowed
 * or skipped: every S3 target runs (targets.ts) and the real SLEAP files must be there
 * (slpFixtures.ts). Read at each call, so a test of these rules can set it.
 */
export function inCI(): boolean {
  const v = (process.env.CI ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}
