// The agent's /docs page (src/agent/docs.ts) is served from files, not bundled code: Swagger UI
// from the swagger-ui-dist package and our initializer. Copied into `<outdir>/docs/`, beside the
// chunks folder the agent's code lands in, for dist/cli.js and for dist/bundled/ (the .vsix).
// The list is DOCS_FILES of src/agent/docs.ts; test/agent/docs.test.ts checks both copies.
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const SWAGGER = ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png', 'LICENSE', 'NOTICE'];
const OURS = ['src/agent/docs/init.js'];

export async function copyDocs(outdir) {
  const dir = join(outdir, 'docs');
  await mkdir(dir, { recursive: true });
  const swagger = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  for (const f of SWAGGER) await copyFile(join(swagger, f), join(dir, f));
  for (const f of OURS) await copyFile(f, join(dir, f.split('/').pop()));
}
