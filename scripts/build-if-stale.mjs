#!/usr/bin/env node
// Builds (tsc) only when a source is newer than the last build, so `npm run demo` starts at once from a current
// dist/. The last build is dist/src/cli/main.js's time: tsc rewrites every output on each build.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = (() => {
  try {
    return statSync(join(root, 'dist', 'src', 'cli', 'main.js')).mtimeMs;
  } catch {
    return -1;
  }
})();

function newest(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path).reduce((t, name) => Math.max(t, newest(join(path, name))), s.mtimeMs);
}

const sources = ['src', 'tui', 'tsconfig.json', 'tsconfig.build.json', 'package.json'].map((p) => join(root, p));
const changed = built < 0 ? 'no build yet' : sources.some((p) => newest(p) > built) ? 'sources changed since the last build' : undefined;
if (changed) {
  process.stderr.write(`mdmtap: building (${changed})…\n`);
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
}
