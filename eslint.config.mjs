// ESLint (flat config): a small rule set for what the type checker does not catch: a promise
// nobody awaits or handles (its rejection would be unhandled and kill the process), a promise
// passed where a plain callback is expected, code nothing uses, and `any` that switches checking
// off. `npm run lint` runs it; `npm test` runs it after the type checks.
//
// The TypeScript (src, test, bench: tsconfig.json; the webview, media/monitor:
// media/tsconfig.json) is linted with type information (the project service finds each file's
// nearest tsconfig.json); the plain JS build scripts (scripts/*.mjs) without it.
//
// Not enabled: the no-unsafe-* rules (every use of a value typed `any` by a library or by
// JSON.parse): far more findings than this rule set is for; a later step.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const unusedVars = [
  'error',
  {
    args: 'after-used',
    argsIgnorePattern: '^_',
    varsIgnorePattern: '^_',
    caughtErrors: 'none',
    destructuredArrayIgnorePattern: '^_',
    ignoreRestSiblings: true,
  },
];

// The Node globals the build scripts use (the `globals` package would list them all; not worth a
// dependency for a dozen names).
const nodeGlobals = Object.fromEntries(
  [
    'process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'AbortController', 'AbortSignal',
    'TextDecoder', 'TextEncoder', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval',
    'setImmediate', 'clearImmediate', 'queueMicrotask', 'structuredClone', 'performance', 'fetch',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  {
    ignores: [
      'dist/**',
      'media/dist/**',
      '.tools/**',
      'node_modules/**',
      '.data/**',
      'coverage/**',
      '**/*.vsix',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // The compiler reports undefined names (and knows the DOM and Node globals per tsconfig).
      'no-undef': 'off',
      // The TypeScript versions of the rules: they understand types, overloads and declarations.
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': unusedVars,
      'no-redeclare': 'off',
      'no-dupe-class-members': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it/test return a promise the runner itself tracks (awaiting
          // them at the top level would serialize nothing and is not how node:test is written);
          // a subtest's t.test() is not in this list: it must be awaited.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Declarations of plain JS modules (scripts/package.d.mts): no tsconfig includes them, and
    // they hold no code for the typed rules to check.
    files: ['**/*.d.mts'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: { globals: nodeGlobals },
    rules: { 'no-unused-vars': unusedVars },
  },
);
