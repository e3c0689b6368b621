// Builds every bundle into dist/ (and the webviews into media/dist/). One file per target in
// scripts/build/, each exporting a function that takes the shared esbuild options:
//   cli.mjs            dist/cli.js: the CLI for this checkout (dependencies from node_modules)
//   bundled.mjs        dist/bundled/: the same CLI with its dependencies inside, for the .vsix
//   extension.mjs      dist/extension.cjs: the VS Code extension (CommonJS, `vscode` external)
//   webviews.mjs       media/dist/: the Training Monitor's script and styles (browser, no Node)
//   extensionTests.mjs dist/test/extension/: the suite that runs inside a real VS Code
//   extensionBench.mjs dist/test/extension-bench/: `npm run bench -- extension`'s entry inside VS Code
// `node scripts/build.mjs cli` builds only the named targets.
import { rm } from 'node:fs/promises';

const targets = {
  cli: () => import('./build/cli.mjs'),
  bundled: () => import('./build/bundled.mjs'),
  extension: () => import('./build/extension.mjs'),
  webviews: () => import('./build/webviews.mjs'),
  extensionTests: () => import('./build/extensionTests.mjs'),
  extensionBench: () => import('./build/extensionBench.mjs'),
};
const wanted = process.argv.slice(2);
for (const name of wanted) if (!(name in targets)) throw new Error(`unknown build target ${name}: one of ${Object.keys(targets).join(', ')}`);
if (wanted.length === 0) await rm('dist', { recursive: true, force: true });
const names = wanted.length ? wanted : Object.keys(targets);
// Built one after another: on two cores esbuild's own threads already use both.
for (const name of names) {
  const mod = await targets[name]();
  await mod.default();
}
