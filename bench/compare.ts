/**
 * Two builds of mdmtap under the same load, alternated run after run, so that a change's effect on CPU per
 * exchange is told apart from the host's drift (this machine's speed moves by 2× within minutes; one run each
 * says little). Each round starts each build fresh as the bench's own rows do (bench/proxy.ts), warms it up for
 * WARM_MS, then measures it for a few seconds under the raw-socket load (bench/raw-load.ts), with its CPU read
 * from /proc (Linux only).
 *
 *   npm run bench:compare -- OTHER/dist/src/cli/main.js [rounds=6] [db|nodb] [seconds=4]
 *
 * Prints each run and then the medians: exchanges/s, CPU ms per exchange, and the median 500 KB exchange.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRawLoad } from './raw-load.js';
import { child, cpuDuring, SATURATING, startMdmtap, stop, WARM_MS } from './proxy.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const THIS = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const [other, roundsArg = '6', mode = 'db', secondsArg = '4'] = process.argv.slice(2);
if (!other || !['db', 'nodb'].includes(mode)) {
  process.stderr.write('usage: npm run bench:compare -- OTHER/dist/src/cli/main.js [rounds] [db|nodb] [seconds]\n');
  process.exit(2);
}
if (!existsSync(other)) {
  process.stderr.write(`bench:compare: ${other} does not exist (build the other checkout first: npm run build there)\n`);
  process.exit(2);
}
const rounds = Number(roundsArg);
const seconds = Number(secondsArg);
if (!Number.isInteger(rounds) || rounds < 1 || !(seconds > 0)) {
  process.stderr.write(`bench:compare: rounds must be a whole number ≥ 1 and seconds a number > 0 (got ${roundsArg}, ${secondsArg})\n`);
  process.exit(2);
}


const work = mkdtempSync(join(tmpdir(), 'mdmtap-bench-compare-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ms = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${x.toFixed(0)} ms` : '–');
const results: Record<string, { rate: number[]; cpu: number[]; big: number[] }> = { other: { rate: [], cpu: [], big: [] }, this: { rate: [], cpu: [], big: [] } };
const server = await child(process.execPath, [join(HERE, 'server-main.js'), join(work, 'server')], {}, { stdout: true });
try {
  const serverPort = Number(server.line);
  let n = 0;
  const one = async (cli: string) => {
    const m = await startMdmtap(work, `127.0.0.1:${serverPort}`, `compare-${++n}`, mode === 'db', cli);
    try {
      await runRawLoad(serverPort, WARM_MS, m.transport, SATURATING);
      const { load, cpuMsPerExchange } = await cpuDuring(m.pid, () => runRawLoad(serverPort, seconds * 1000, m.transport, SATURATING));
      if (cpuMsPerExchange === undefined) throw new Error('bench:compare reads CPU time from /proc (Linux only)');
      return { rate: load.exchanges / seconds, cpu: cpuMsPerExchange, big: median(load.bigLatencies) ?? NaN, errors: load.errors };
    } finally {
      await m.stop();
    }
  };
  for (let r = 0; r < rounds; r++) {
    for (const [name, cli] of [['other', other], ['this', THIS]] as const) {
      const x = await one(cli);
      results[name].rate.push(x.rate);
      results[name].cpu.push(x.cpu);
      results[name].big.push(x.big);
      process.stdout.write(`${name.padEnd(5)} ${x.rate.toFixed(0).padStart(6)}/s  ${x.cpu.toFixed(3)} ms CPU/exchange  500 KB p50 ${ms(x.big)}  errors ${x.errors}\n`);
    }
  }
  process.stdout.write(`\nmedians over ${rounds} rounds (${mode}, ${seconds} s each):\n`);
  for (const name of ['other', 'this']) {
    const x = results[name];
    process.stdout.write(`${name.padEnd(5)} ${median(x.rate).toFixed(0).padStart(6)}/s  ${median(x.cpu).toFixed(3)} ms CPU/exchange  500 KB p50 ${ms(median(x.big.filter(Number.isFinite)))}\n`);
  }
} finally {
  await stop(server.proc);
  rmSync(work, { recursive: true, force: true });
}
