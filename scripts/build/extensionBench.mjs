// dist/test/extension-bench/index.cjs: the entry `npm run bench -- extension` (bench/extension.ts)
// runs inside a real VS Code extension host (`run()`, as extensionTestsPath expects): activation
// and event -> pixel measurements, printed as one BENCH_RESULT line. `vscode` comes from the host.
import { build } from 'esbuild';

export default async function buildExtensionBench() {
  await build({
    entryPoints: { index: 'test/extension/bench/index.ts' },
    outdir: 'dist/test/extension-bench',
    outExtension: { '.js': '.cjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}
