// The runtime (issue 16, 6): the suite runs on Node 22 LTS, and the AWS SDK's warning about Node 20
// goes away because the runtime is supported, not because it is silenced.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inCI } from '../support/ci.js';
import { repoRoot } from '../support/proc.js';

const major = Number(process.versions.node.split('.')[0]);

test('in CI the whole suite runs on Node 22 or later (.ci/run puts scripts/install-node.sh first on PATH)', { skip: !inCI() && major < 22 ? `this run is on ${process.version}, outside CI` : false }, () => {
  assert.ok(major >= 22, `the suite runs on ${process.version}`);
});

test("an S3 client made by the project's factory warns about the runtime only on Node 20 (nothing silences the SDK)", () => {
  const script = `import { makeS3Client } from ${JSON.stringify(join(repoRoot, 'src/core/s3client.ts'))};
makeS3Client({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' });
process.stdout.write('client made\\n');`;
  // The child's environment is this one minus anything that would hide the warning.
  const env = { ...process.env };
  delete env.NODE_NO_WARNINGS;
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /client made/);
  if (major >= 22) assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning/);
  else assert.match(r.stderr, /NodeVersionSupportWarning/, 'on Node 20 the SDK warns, and the project does not hide it');
});

test('no file of the project hides runtime warnings (the SDK switch, NODE_NO_WARNINGS, --no-warnings, a removed warning listener)', () => {
  const hiders = [/AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED/, /NODE_NO_WARNINGS/, /--no-warnings/, /removeAllListeners\(\s*['"]warning/, /\.on\(\s*['"]warning['"]/];
  const roots = ['src', 'scripts', 'bench', 'media', '.ci', 'package.json'].map((p) => join(repoRoot, p));
  const files: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const n of readdirSync(p)) if (n !== 'dist' && n !== 'node_modules') walk(join(p, n));
    } else if (/\.(ts|mts|mjs|js|sh|json)$|\/run$/.test(p)) files.push(p);
  };
  roots.forEach(walk);
  assert.ok(files.length > 50, `scanned ${files.length} files`);
  const found = files.flatMap((f) => {
    const text = readFileSync(f, 'utf8');
    return hiders.filter((h) => h.test(text)).map((h) => `${f.slice(repoRoot.length)}: ${h}`);
  });
  assert.deepEqual(found, []);
});
