import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/proc.js';

/**
 * The agent and the extension run on researchers' laptops: Linux, macOS and Windows (the worker,
 * store and server may stay Linux-first). CI runs Linux only, so this scans every source file
 * they can load: src/agent/**, src/extension/** and what those import (walked through the
 * relative imports, into src/core), for calls that exist on Linux only or on POSIX only.
 * A file may use one only behind a platform check, and is then named in ALLOWED with why.
 */
interface Rule {
  name: string;
  re: RegExp;
  why: string;
  /** A line the rule must catch and one it must let through, so that a rule cannot rot into matching nothing. */
  bad: string;
  good: string;
}

const RULES: Rule[] = [
  { name: 'O_DIRECT', re: /\bO_DIRECT\b/, why: 'Linux only (fs.constants.O_DIRECT is undefined on macOS and Windows)', bad: 'open(p, constants.O_WRONLY | constants.O_DIRECT)', good: 'open(p, constants.O_WRONLY)' },
  { name: '/proc', re: /['"`]\/proc\b/, why: 'Linux only: macOS and Windows have no /proc', bad: 'readFile(`/proc/${pid}/stat`)', good: "readFile(join(dir, 'proc'))" },
  { name: '/dev', re: /['"`]\/dev\//, why: 'no /dev on Windows (/dev/shm is Linux only): use os.devNull or os.tmpdir()', bad: "open('/dev/shm/x')", good: 'open(devNull)' },
  { name: 'Unix path', re: /['"`]\/(?:tmp|bin|usr|etc|var)\//, why: 'no such folder on Windows: use os.tmpdir() or find the program on PATH', bad: "join('/tmp/', name)", good: 'join(tmpdir(), name)' },
  { name: 'group signal', re: /\bkill\(\s*-/, why: 'a negative pid signals a process group: POSIX only (Windows has no process groups to signal)', bad: 'process.kill(-pgid, signal)', good: 'process.kill(pid, 0)' },
  { name: 'POSIX signal', re: /['"`]SIG(?:STOP|CONT|TSTP|USR1|USR2|QUIT)['"`]/, why: 'Windows cannot send or receive it (only SIGINT, SIGTERM and SIGKILL, the last two as TerminateProcess)', bad: "signalGroup(pid, 'SIGSTOP')", good: "process.kill(pid, 'SIGTERM')" },
  { name: 'statfs', re: /\bstatfs(?:Sync)?\b/, why: 'its `type` (the filesystem magic) is Linux only; each use names what it reads', bad: 'const s = await statfs(dir)', good: 'const s = await stat(dir)' },
  { name: 'uid', re: /\bprocess\.get(?:e?[ug]id|groups)\(/, why: 'undefined on Windows: call it as process.getuid?.()', bad: 'const uid = process.getuid();', good: 'const uid = process.getuid?.();' },
  {
    name: 'Unix command',
    re: /\b(?:spawn|spawnSync|execFile|execFileSync|exec|execSync)\)?\(\s*['"`](?:ps|lsof|kill|pkill|pgrep|sh|bash|ss|netstat|fuser|xdg-open|open|df|mount|nice|ionice|taskset)['"`]/,
    why: 'no such program on Windows',
    bad: "promisify(execFile)('lsof', ['-nP'])",
    good: 'execFile(process.execPath, [cli])',
  },
];

/** Files that may use a rule's call, behind a platform check (`guard`, which must be in the file). */
const ALLOWED: { file: string; rules: string[]; guard?: RegExp; why: string }[] = [
  {
    file: 'src/core/portHolder.ts',
    rules: ['/proc', 'Unix command'],
    guard: /process\.platform === 'linux'[\s\S]*process\.platform === 'darwin'/,
    why: "reads /proc only when process.platform === 'linux' and runs lsof only when it is 'darwin'; elsewhere (Windows) the port-in-use message names no holder",
  },
  {
    file: 'src/core/freeSpace.ts',
    rules: ['statfs'],
    why: "fs.statfs is libuv's and works on macOS and Windows too; the free-space check reads only bavail and bsize, never the Linux-only type",
  },
];

// Static imports and re-exports, side-effect imports, dynamic imports and require (as in
// boundaries.test.ts); `import type` is erased at build and loads nothing.
const IMPORT = /(?:\bfrom|\bimport\s*\(?|\brequire\s*\()\s*['"](\.[^'"]+)['"]/g;
const TYPE_ONLY = /^\s*(?:import|export)\s+type\b/;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** An import's file: `./x.js` is `./x.ts`, a folder its index.ts; undefined for non-TypeScript (package.json). */
function resolveImport(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')]) if (c.endsWith('.ts') && existsSync(c) && statSync(c).isFile()) return c;
  return undefined;
}

/** The code without comments (a comment may name /proc to say why it is not read), lines kept. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/(^|[\s;{}(),])\/\/.*$/gm, '$1');
}

/** Every file the agent and extension load: their folders and what they import, transitively. */
function reachable(): string[] {
  const src = join(repoRoot, 'src');
  const queue = [...tsFiles(join(src, 'agent')), ...tsFiles(join(src, 'extension'))];
  const seen = new Set<string>();
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const stmt of code(text).split(';')) {
      if (TYPE_ONLY.test(stmt)) continue;
      for (const m of stmt.matchAll(IMPORT)) {
        const target = resolveImport(file, m[1]);
        if (target) queue.push(target);
      }
    }
  }
  return [...seen].map((f) => relative(repoRoot, f).split('\\').join('/')).sort();
}

test('each portability rule catches its example and lets the portable one through', () => {
  for (const r of RULES) {
    assert.match(code(r.bad), r.re, `${r.name} misses ${r.bad}`);
    assert.doesNotMatch(code(r.good), r.re, `${r.name} catches ${r.good}`);
  }
  // Comments are not code; URLs in strings are not comments.
  assert.doesNotMatch(code("// we never read '/proc' here"), /\/proc/);
  assert.match(code("fetch('http://x/proc')"), /http:\/\/x/);
});

test('the agent and the extension load only code that runs on Linux, macOS and Windows', () => {
  const files = reachable();
  // The walk found the entry points and followed them into core (a scan of nothing passes nothing).
  for (const f of ['src/agent/main.ts', 'src/extension/extension.ts', 'src/extension/agent/AgentProcess.ts', 'src/core/processAlive.ts', 'src/core/paths.ts', 'src/core/portHolder.ts']) assert.ok(files.includes(f), `${f} was not reached`);
  const violations: string[] = [];
  const used = new Map<string, Set<string>>();
  for (const file of files) {
    const lines = code(readFileSync(join(repoRoot, file), 'utf8')).split('\n');
    const allowed = ALLOWED.find((a) => a.file === file);
    lines.forEach((line, i) => {
      for (const r of RULES) {
        if (!r.re.test(line)) continue;
        if (allowed?.rules.includes(r.name)) {
          used.set(file, (used.get(file) ?? new Set()).add(r.name));
          continue;
        }
        violations.push(`${file}:${i + 1}: ${r.name}: ${r.why}: ${line.trim().slice(0, 120)}`);
      }
    });
  }
  assert.deepEqual(violations, [], 'put the call behind a process.platform check with a path for each platform, then name the file in ALLOWED with why');
  for (const a of ALLOWED) {
    assert.ok(files.includes(a.file), `ALLOWED names ${a.file}, which the agent and extension no longer load: remove it`);
    assert.deepEqual([...(used.get(a.file) ?? [])].sort(), [...a.rules].sort(), `ALLOWED for ${a.file} lists rules it no longer breaks: remove them`);
    if (a.guard) assert.match(readFileSync(join(repoRoot, a.file), 'utf8'), a.guard, `${a.file} lost its platform check (${a.why})`);
  }
});
