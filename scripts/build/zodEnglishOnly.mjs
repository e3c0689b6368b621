// An esbuild plugin for bundles where start-up time counts (the extension): zod 4's `z` namespace
// re-exports `locales`, every language's error messages, and esbuild cannot drop the unused ones
// (a namespace object keeps all its members): 250 KiB of the extension's minified 645. Our error
// texts are English (zod's default, set by its own import of locales/en.js), and nothing reads
// `z.locales`, so its index resolves to English only here. zod has no build-time switch for this.
import { dirname, join } from 'node:path';

export const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)) return undefined;
      return { path: join(dirname(args.importer), '..', 'locales', 'en.js'), namespace: 'zod-locales' };
    });
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};
