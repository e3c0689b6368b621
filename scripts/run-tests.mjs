// Runs every test/**/*.test.ts with node's own test runner (Node 20 has no glob for --test).
// Extra arguments filter the files by substring: `npm test -- store`.
//
// The TAP stream goes to stdout as it runs; a second reporter (spec) writes to a file so that, at
// the end, the failing tests are printed again where a reader of a long log looks: its last lines.
// The run then ends with a plain `N passed, N failed` line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'support' ? [] : find(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
}
const filters = process.argv.slice(2);
const files = find('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'sleap-rtc-tests-'));
const spec = join(dir, 'spec.txt');
const r = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--test', '--test-concurrency=1',
    '--test-reporter=tap', '--test-reporter-destination=stdout',
    '--test-reporter=spec', `--test-reporter-destination=${spec}`,
    ...files,
  ],
  { stdio: 'inherit' },
);
let text = '';
try {
  text = readFileSync(spec, 'utf8');
} catch {
  // no spec file: the runner died before reporting; its status says so below
}
rmSync(dir, { recursive: true, force: true });
const count = (name) => Number(new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
const failing = text.indexOf('✖ failing tests:');
if (failing >= 0) {
  console.log('');
  console.log(text.slice(failing).trimEnd());
}
console.log('');
console.log(`${passed} passed, ${failed} failed`);
process.exit(r.status ?? 1);
