import { existsSync } from 'node:fs';

// Debian's libfaketime (package faketime), per architecture.
const CANDIDATES = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'];

/**
 * The environment that runs a process with its clock `offset` off (libfaketime's FAKETIME
 * syntax: '+10m', '-10m', '+2h'): a real clock that runs on, shifted, for every time call of the
 * process. Missing libfaketime is a failure that says how to install it, not a skip.
 */
export function clockOffEnv(offset: string): NodeJS.ProcessEnv {
  const lib = CANDIDATES.find((p) => existsSync(p));
  if (!lib) throw new Error('libfaketime is not installed (Debian package faketime): run `bash scripts/ci-install.sh` as root, then the tests again');
  return { LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}
