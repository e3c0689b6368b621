import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/proc.js';

/**
 * The architecture's import rules (design/architecture.md, style.md): core imports nothing else
 * in src; store imports only core; agent, server and worker import only core and themselves;
 * nothing imports extension; extension reaches the agent over HTTP (core types only).
 */
const allowed: Record<string, string[]> = {
  core: ['core'],
  store: ['core', 'store'],
  server: ['core', 'server'],
  agent: ['core', 'agent'],
  worker: ['core', 'worker'],
  extension: ['core', 'extension'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('src folders import only what the architecture allows', () => {
  const src = join(repoRoot, 'src');
  const violations: string[] = [];
  for (const file of files(src)) {
    const area = relative(src, file).split('/')[0];
    if (!(area in allowed)) continue; // src/cli.ts wires the processes together
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import\()\s*['"](\.[^'"]+)['"]/g)) {
      const target = relative(src, resolve(dirname(file), m[1])).split('/')[0];
      if (target.startsWith('..')) {
        // src/core/version.ts reads the version from package.json: the one file outside src allowed.
        if (resolve(dirname(file), m[1]) !== join(repoRoot, 'package.json')) violations.push(`${relative(repoRoot, file)} imports ${m[1]} outside src`);
      }
      else if (target in allowed && !allowed[area].includes(target)) violations.push(`${relative(repoRoot, file)} (${area}) imports ${m[1]} (${target})`);
    }
  }
  assert.deepEqual(violations, []);
});
