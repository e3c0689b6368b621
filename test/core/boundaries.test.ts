import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/proc.js';

/**
 * The architecture's import rules (docs/architecture.md, "Import rules"): core imports nothing else
 * in src; store imports only core; agent, server and worker import only core and themselves;
 * nothing imports extension; extension reaches the agent over HTTP (core types only). The two
 * top-level files wire the processes together: only they import the process folders from
 * outside, and nothing imports them (cli.ts starts stack.ts). Every file of src is in one of
 * these areas: a new folder or top-level file fails here until it has its rule.
 */
const PROCESSES = ['store', 'server', 'agent', 'worker'];
const allowed: Record<string, string[]> = {
  core: ['core'],
  store: ['core', 'store'],
  server: ['core', 'server'],
  agent: ['core', 'agent'],
  worker: ['core', 'worker'],
  extension: ['core', 'extension'],
  'cli.ts': ['core', ...PROCESSES, 'stack.ts'],
  'stack.ts': ['core', ...PROCESSES],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** A path's area: its folder under src, or the top-level file itself (an import's `.js` is its `.ts`). */
function areaOf(src: string, path: string): string {
  const parts = relative(src, path).split('/');
  return parts.length === 1 ? parts[0].replace(/\.js$/, '.ts') : parts[0];
}

// Static imports and re-exports (`from '...'`), side-effect imports (`import '...'`), dynamic
// imports and require: every way a relative module is named.
const IMPORT = /(?:\bfrom|\bimport\s*\(?|\brequire\s*\()\s*['"](\.[^'"]+)['"]/g;

test('src folders import only what the architecture allows', () => {
  const src = join(repoRoot, 'src');
  const violations: string[] = [];
  for (const file of files(src)) {
    const area = areaOf(src, file);
    const where = relative(repoRoot, file);
    if (!(area in allowed)) {
      violations.push(`${where} is in ${area}, which has no import rule here: add one`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const path = resolve(dirname(file), m[1]);
      if (relative(src, path).startsWith('..')) {
        // src/core/version.ts reads the version from package.json: the one import from outside src.
        if (where !== 'src/core/version.ts' || path !== join(repoRoot, 'package.json')) violations.push(`${where} imports ${m[1]} outside src`);
        continue;
      }
      const target = areaOf(src, path);
      if (!allowed[area].includes(target)) violations.push(`${where} (${area}) imports ${m[1]} (${target})`);
    }
  }
  assert.deepEqual(violations, []);
});
