// Lint: type-aware rules that catch async mistakes, plus module boundaries that keep
// the dependency direction of docs/architecture.md true.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const domains = [
  'events',
  'errors',
  'config',
  'expr',
  'pipelines',
  'triggers',
  'runs',
  'workers',
  'store',
  'bus',
  'security',
  'observability',
  'intake',
  'sources',
  'server',
  'cli',
  'yaml',
  'notifiers',
];

// What each domain must not import (see docs/architecture.md).
const forbidden = {
  errors: domains.filter((d) => d !== 'errors'),
  // Shared YAML helpers (positions, suggestions, problems) for config and pipelines.
  yaml: domains.filter((d) => !['yaml', 'errors'].includes(d)),
  events: domains.filter((d) => !['events', 'errors'].includes(d)),
  store: [
    'intake',
    'sources',
    'server',
    'cli',
    'bus',
    'config',
    'security',
    'runs',
    'workers',
    'triggers',
    'pipelines',
  ],
  bus: [
    'intake',
    'sources',
    'server',
    'cli',
    'store',
    'config',
    'security',
    'runs',
    'workers',
    'triggers',
    'pipelines',
  ],
  intake: ['sources', 'server', 'cli', 'config', 'runs', 'workers', 'triggers', 'pipelines'],
  security: ['intake', 'sources', 'server', 'cli', 'bus', 'runs', 'workers', 'triggers', 'pipelines'],
  config: ['intake', 'sources', 'server', 'cli', 'bus', 'store', 'runs', 'workers', 'triggers', 'pipelines'],
  observability: ['intake', 'sources', 'server', 'cli', 'runs', 'workers', 'triggers', 'pipelines'],
  // Sources know only events and security: they authenticate and map, and hand events back.
  // The generic webhook source maps payloads with CEL expressions, so sources may also use expr.
  sources: domains.filter((d) => !['sources', 'events', 'errors', 'security', 'expr'].includes(d)),
  server: ['cli'],
  // The pipeline side: events ← expr ← pipelines ← triggers ← runs ← workers.
  expr: domains.filter((d) => !['expr', 'events', 'errors'].includes(d)),
  pipelines: domains.filter((d) => !['pipelines', 'expr', 'events', 'errors', 'yaml'].includes(d)),
  triggers: domains.filter((d) => !['triggers', 'pipelines', 'expr', 'events', 'errors'].includes(d)),
  runs: ['sources', 'server', 'cli', 'workers'],
  // Workers run jobs; they publish through a function they are given, not through intake or the bus.
  workers: ['sources', 'server', 'cli', 'intake', 'bus', 'config'],
  // Notifiers report runs outward: events from the bus, run and event records from the store.
  notifiers: ['sources', 'server', 'cli', 'config', 'runs', 'workers', 'triggers', 'pipelines', 'expr'],
};

const zones = Object.entries(forbidden).flatMap(([target, from]) =>
  from.map((f) => ({ target: `./src/${target}`, from: `./src/${f}` })),
);
zones.push(
  ...domains.filter((d) => d !== 'cli').map((d) => ({ target: `./src/${d}`, from: './src/app.ts' })),
  // `junction run`'s engine sits beside app.ts and, like it, is for the CLI only.
  ...domains.filter((d) => d !== 'cli').map((d) => ({ target: `./src/${d}`, from: './src/local-run.ts' })),
);

export default tseslint.config(
  { ignores: ['node_modules/**', '.junction/**', 'coverage/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones }],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'suite', 'test', 'it', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  { files: ['**/*.mjs', 'bin/*.js'], ...tseslint.configs.disableTypeChecked },
  { files: ['bin/*.js'], languageOptions: { globals: { process: 'readonly' } } },
);
