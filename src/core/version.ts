import pkg from '../../package.json' with { type: 'json' };

/**
 * This build's version, from package.json and nowhere else: esbuild inlines the JSON import
 * into each bundle at build time, tsx reads it from the checkout. The CLI's --version, the
 * agent's /health and connection file, and the extension's check that it talks to an agent of
 * its own version all use it.
 *
 * The whole package.json goes into the bundles (a default JSON import cannot be tree-shaken,
 * and TypeScript's NodeNext refuses named imports from JSON); at ~15 KB next to bundles of
 * hundreds of KB to MBs that is accepted rather than a build-time define or a runtime read
 * of package.json, whose path differs in every bundle layout (dist/, dist/bundled/, the .vsix).
 */
export const VERSION: string = pkg.version;
