// dist/extension.cjs: the VS Code extension. CommonJS (the extension host require()s `main`),
// `vscode` provided by the host, every other dependency bundled in (the .vsix has no node_modules).
import { build } from 'esbuild';
import { nodeBundle } from './node.mjs';
import { zodEnglishOnly } from './zodEnglishOnly.mjs';

export default async function buildExtension() {
  await build({
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.cjs',
    ...nodeBundle,
    format: 'cjs',
    external: ['vscode'],
    sourcemap: true,
    // Minified: the host parses the whole bundle at activation (1.1 MB unminified, most of it
    // zod and yaml), and that was half of the activation time measured by bench extension.
    minify: true,
    legalComments: 'none',
    plugins: [zodEnglishOnly],
  });
}
