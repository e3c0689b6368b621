// What every Node bundle of the project shares (the CLI, its bundled copy, the extension and the
// code that runs in VS Code's extension host): Node 20, as VS Code 1.96's extension host runs it.
import { build } from 'esbuild';

export const nodeBundle = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };

/**
 * A module VS Code loads into its extension host as `extensionTestsPath` (CommonJS, `run()`):
 * `vscode` comes from the host, `external` stays in node_modules.
 */
export function extensionHostModule(entry, outdir, external = []) {
  return build({ ...nodeBundle, entryPoints: { index: entry }, outdir, outExtension: { '.js': '.cjs' }, format: 'cjs', external: ['vscode', ...external], sourcemap: 'inline' });
}
