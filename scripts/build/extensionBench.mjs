// dist/test/extension-bench/index.cjs: the entry `npm run bench -- extension` (bench/extension.ts)
// runs inside a real VS Code extension host (`run()`, as extensionTestsPath expects): activation
// and event -> pixel measurements, printed as one BENCH_RESULT line. `vscode` comes from the host.
import { extensionHostModule } from './node.mjs';

export default function buildExtensionBench() {
  return extensionHostModule('test/extension/bench/index.ts', 'dist/test/extension-bench');
}
