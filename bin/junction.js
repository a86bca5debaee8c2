#!/usr/bin/env node
// Entry point installed as `junction`. Junction runs on Node 24 (type stripping runs the
// TypeScript sources directly); under an older Node this says so instead of failing obscurely.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `junction needs Node.js 24 or newer (this is ${process.version}); run it through npm (npm run junction -- ...) or npx, which use the pinned node@24\n`,
  );
  process.exit(78);
}
// The JavaScript built by `npm run build` when it is there (it starts faster and takes about 30 MB
// less memory), else the TypeScript sources through Node's type stripping.
const { existsSync } = await import('node:fs');
const built = existsSync(`${import.meta.dirname}/../dist/cli/main.js`);
await import(built ? '../dist/cli/main.js' : '../src/cli/main.ts');
