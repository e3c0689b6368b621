// dist/test/extension/index.cjs: the suite that runs inside a real VS Code extension host
// (mocha, tdd; `run()` as @vscode/test-electron expects). `vscode` comes from the host.
import { extensionHostModule } from './node.mjs';

export default function buildExtensionTests() {
  return extensionHostModule('test/extension/suite/index.ts', 'dist/test/extension', ['mocha']);
}
