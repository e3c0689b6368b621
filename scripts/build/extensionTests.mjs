// dist/test/extension/index.cjs: the suite that runs inside a real VS Code extension host
// (mocha, tdd; `run()` as @vscode/test-electron expects). `vscode` comes from the host.
import { build } from 'esbuild';

export default async function buildExtensionTests() {
  await build({
    entryPoints: { index: 'test/extension/suite/index.ts' },
    outdir: 'dist/test/extension',
    outExtension: { '.js': '.cjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode', 'mocha'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}
