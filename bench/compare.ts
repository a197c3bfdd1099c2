/**
 * Two builds of mdmtap under the same load, alternated run after run, so that a change's effect on CPU per
 * exchange is told apart from the host's drift (this machine's speed moves by 2× within minutes; one run each
 * says little). Each round starts each build fresh, warms it up for a second, then measures it for a few seconds
 * under the raw-socket load (bench/raw-load.ts), with its CPU read from /proc (Linux only).
 *
 *   npm run bench:compare -- OTHER/dist/src/cli/main.js [rounds=6] [db|nodb] [seconds=4]
 *
 * Prints each run and then the medians: exchanges/s, CPU ms per exchange, and the median 500 KB exchange.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runRawLoad } from './raw-load.js';
import { cpuDuring, SATURATING, WARM_MS } from './proxy.js';

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


function waitFor(proc: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} from ${proc.spawnfile}`)), 30_000);
    proc[stream]!.on('data', (d: Buffer) => {
      text = (text + d.toString()).slice(-10_000);
      const m = re.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'mdmtap-bench-compare-'));
const server = spawn(process.execPath, [join(HERE, 'server-main.js'), join(work, 'server')], { stdio: ['ignore', 'pipe', 'inherit'] });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ms = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${x.toFixed(0)} ms` : '–');
const results: Record<string, { rate: number[]; cpu: number[]; big: number[] }> = { other: { rate: [], cpu: [], big: [] }, this: { rate: [], cpu: [], big: [] } };
try {
  const serverPort = Number((await waitFor(server, 'stdout', /(\d+)\n/))[1]);
  let n = 0;
  const one = async (cli: string) => {
    const dir = join(work, `m${++n}`);
    const args = [cli, 'start', '--json', '--host', '127.0.0.1', '--port', '0', '--mdm-host', `127.0.0.1:${serverPort}`, '--upstream-ca', join(work, 'server', 'ca.pem'), '--certs', join(work, 'ca'), ...(mode === 'nodb' ? ['--no-db'] : ['--db', `${dir}.sqlite`])];
    const m = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const port = Number((await waitFor(m, 'stderr', /listening on 127\.0\.0\.1:(\d+)/))[1]);
      const t = { ca: [readFileSync(join(work, 'ca', 'ca.pem'), 'utf8')], proxy: { host: '127.0.0.1', port } };
      await runRawLoad(serverPort, WARM_MS, t, SATURATING);
      const { load, cpuMsPerExchange } = await cpuDuring(m.pid, () => runRawLoad(serverPort, seconds * 1000, t, SATURATING));
      if (cpuMsPerExchange === undefined) throw new Error('bench:compare reads CPU time from /proc (Linux only)');
      return { rate: load.exchanges / seconds, cpu: cpuMsPerExchange, big: median(load.bigLatencies) ?? NaN, errors: load.errors };
    } finally {
      const exited = new Promise((r) => m.once('exit', r));
      m.kill('SIGTERM');
      await exited;
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
  server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
