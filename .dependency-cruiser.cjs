/**
 * The layers of mdmtap, lowest first: a module may use its own layer and the ones below it, never one above, and
 * no import may close a cycle. `npm test` runs this check (npm run check:layers).
 */
const LAYERS = [
  ['src/util', 'src/plist'],
  ['src/model'],
  ['src/mdm'],
  ['src/analysis'],
  ['src/capture'],
  ['src/store'],
  ['src/proxy', 'src/push'],
  ['src/replay', 'src/live', 'src/sinks'],
  ['src/sim'],
  ['src/demo'],
  ['src/cli', 'tui'],
];

const above = (i) => LAYERS.slice(i + 1).flat();
const pathOf = (dirs) => `^(${dirs.map((d) => d.replace('/', '\\/')).join('|')})/`;

module.exports = {
  forbidden: [
    { name: 'no-cycle', severity: 'error', comment: 'An import cycle ties modules that should stand apart.', from: {}, to: { circular: true } },
    ...LAYERS.slice(0, -1).map((dirs, i) => ({
      name: `layer-${dirs.join('+').replace(/src\//g, '')}`,
      severity: 'error',
      comment: `${dirs.join(', ')} must not use a layer above it (${above(i).join(', ')})`,
      from: { path: pathOf(dirs) },
      to: { path: pathOf(above(i)) },
    })),
    {
      name: 'product-not-from-tests-or-bench',
      severity: 'error',
      comment: 'What ships must not import the tests or the benchmarks.',
      from: { path: '^(src|tui)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
