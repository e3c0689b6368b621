// Packs the built extension into sleap-rtc-<version>.vsix in the repo root (`npm run package`,
// which builds first) with @vscode/vsce, then checks what went in and prints the path and size.
//
//   node scripts/package.mjs [--out FILE]      (after `node scripts/build.mjs`)
//
// vsce runs with --no-dependencies (everything the extension runs is bundled: dist/extension.cjs,
// the self-contained CLI in dist/bundled/, the webview bundle in media/dist/) and
// --allow-missing-repository (the manifest names none). What goes in is decided by .vscodeignore
// (an allow-list); the check below fails on a file that must not ship (sources, source maps,
// node_modules, the dev CLI) and on one the installed extension needs but the package lacks
// (`main`, the bundled CLI and every chunk it may import, the webview bundle, the icons and
// walkthrough pages the manifest names).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const manifest = () => JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));

/** The default output: <repo>/<name>-<version>.vsix. */
export function defaultVsixPath() {
  const m = manifest();
  return join(repoRoot, `${m.name}-${m.version}.vsix`);
}

/** Paths (inside the .vsix, under extension/) that must never ship. */
const FORBIDDEN = [
  [/\.map$/, 'a source map'],
  [/\.tsx?$/, 'a TypeScript source'],
  [/^extension\/(src|test|bench|scripts|node_modules|\.ci|\.tools|\.data|docs|coverage)\//, 'a source, test, tool or data folder'],
  [/(^|\/)node_modules\//, 'a node_modules folder'],
  [/^extension\/dist\/(cli\.js|chunks\/|test\/)/, 'the dev CLI or a test bundle (they need node_modules)'],
  [/^extension\/media\/monitor\//, 'the webview sources (only media/dist is loaded)'],
  [/\.vsix$/, 'another .vsix'],
];

/** Every file of the .vsix the installed extension needs, from the manifest and the build output. */
function requiredEntries() {
  const m = manifest();
  const need = new Set(['extension/package.json', 'extension/readme.md', 'extension/LICENSE.txt']);
  const add = (p) => need.add(`extension/${p.replace(/^\.\//, '')}`);
  add(m.main);
  for (const c of m.contributes?.viewsContainers?.activitybar ?? []) if (c.icon) add(c.icon);
  for (const w of m.contributes?.walkthroughs ?? []) for (const s of w.steps) for (const f of Object.values(s.media ?? {})) if (typeof f === 'string' && /\.(md|svg|png|jpe?g|gif)$/.test(f)) add(f);
  // The monitor loads these two (src/extension/monitor/MonitorPanel.ts).
  add('media/dist/monitor.js');
  add('media/dist/monitor.css');
  // The bundled CLI: its entry and every chunk, since any may be import()ed at run time.
  const walk = (dir) => readdirSync(join(repoRoot, dir)).flatMap((n) => (statSync(join(repoRoot, dir, n)).isDirectory() ? walk(`${dir}/${n}`) : [`${dir}/${n}`]));
  for (const f of walk('dist/bundled')) if (!f.endsWith('.map')) add(f);
  return need;
}

/** The entries of a zip file (name, uncompressed size), read from its central directory. */
export async function zipEntries(path) {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const tailLen = Math.min(size, 65_557);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${path} is not a zip file (no end of central directory)`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const entries = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${path}: bad central directory entry ${i}`);
      const compressed = cd.readUInt32LE(p + 20);
      const uncompressed = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      entries.push({ name: cd.toString('utf8', p + 46, p + 46 + nameLen), size: uncompressed, compressed });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/** What is wrong with a .vsix's file list (empty: nothing). */
export function checkEntries(names) {
  const problems = [];
  for (const n of names) {
    const hit = FORBIDDEN.find(([re]) => re.test(n));
    if (hit) problems.push(`${n} is ${hit[1]} and must not ship (see .vscodeignore)`);
  }
  const have = new Set(names);
  for (const n of requiredEntries()) if (!have.has(n)) problems.push(`${n} is missing: the installed extension needs it`);
  return problems;
}

/**
 * Packs the .vsix (the bundles must be built: `node scripts/build.mjs`), checks its contents and
 * returns its path, size and entries. `quiet` keeps vsce's file tree off the console.
 */
export async function packageVsix({ out = defaultVsixPath(), quiet = false } = {}) {
  const path = isAbsolute(out) ? out : resolve(process.cwd(), out);
  for (const f of ['dist/extension.cjs', 'dist/bundled/sleap-rtc.mjs', 'media/dist/monitor.js', 'media/dist/monitor.css']) {
    if (!existsSync(join(repoRoot, f))) throw new Error(`${f} is not built: run \`node scripts/build.mjs\` first (\`npm run package\` does both)`);
  }
  const { createVSIX } = createRequire(import.meta.url)('@vscode/vsce');
  const saved = { log: console.log, info: console.info };
  if (quiet) console.log = console.info = () => undefined;
  try {
    await createVSIX({ cwd: repoRoot, packagePath: path, dependencies: false, allowMissingRepository: true });
  } finally {
    Object.assign(console, saved);
  }
  const entries = await zipEntries(path);
  const problems = checkEntries(entries.map((e) => e.name));
  if (problems.length) throw new Error(`${relative(process.cwd(), path) || path} is not right:\n  ${problems.join('\n  ')}`);
  return { path, size: statSync(path).size, entries };
}

/** One line per top-level part of the package: files and uncompressed bytes. */
export function summarize(entries) {
  const groups = new Map();
  for (const e of entries) {
    // extension/dist/extension.cjs -> dist/extension.cjs; extension/dist/bundled/chunks/x.mjs -> dist/bundled/
    const segs = e.name.replace(/^extension\//, '').split('/');
    const key = segs.length <= 2 ? segs.join('/') : `${segs.slice(0, 2).join('/')}/`;
    const g = groups.get(key) ?? { files: 0, bytes: 0 };
    g.files++;
    g.bytes += e.size;
    groups.set(key, g);
  }
  return [...groups].map(([k, g]) => `  ${k.padEnd(28)} ${String(g.files).padStart(3)} file${g.files === 1 ? ' ' : 's'} ${kib(g.bytes).padStart(12)}`);
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
export const mib = (n) => `${(n / 1024 / 1024).toFixed(2)} MiB`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const out = i > 0 ? process.argv[i + 1] : undefined;
  if (i > 0 && !out) {
    console.error('usage: node scripts/package.mjs [--out FILE.vsix]');
    process.exit(2);
  }
  try {
    const r = await packageVsix({ out, quiet: true });
    const unpacked = r.entries.reduce((s, e) => s + e.size, 0);
    console.log(summarize(r.entries).join('\n'));
    console.log(`${relative(process.cwd(), r.path) || r.path}: ${mib(r.size)} (${r.size.toLocaleString('en-US')} bytes; ${r.entries.length} files, ${mib(unpacked)} unpacked)`);
  } catch (e) {
    console.error(`package: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
