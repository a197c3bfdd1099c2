#!/usr/bin/env node
/** The `mdmtap` command line: one file per command under commands/, wired here. */
import { Command, CommanderError } from 'commander';
import { registerAnalyze } from './commands/analyze.js';
import { registerStart } from './commands/start.js';
import { registerCa } from './commands/ca.js';
import { registerExport } from './commands/export.js';
import { registerView } from './commands/view.js';
import { registerDemo } from './commands/demo.js';
import { reportAndExit } from './errors.js';
import { VERSION } from '../version.js';
import { runWithHeapCap } from './heap-cap.js';
import { installStdoutPolicy } from './stdout.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mdmtap')
    .description('A man-in-the-middle proxy for Apple MDM that follows every device session and flags stranded NotNow commands.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      // Commander prints "error: …" itself; keep it to one line and let exitOverride set the status.
      writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `mdmtap: ${s.slice(7)}` : s),
    });
  registerStart(program);
  registerAnalyze(program);
  registerExport(program);
  registerView(program);
  registerDemo(program);
  registerCa(program);
  return program;
}

async function main(): Promise<void> {
  // `mdmtap analyze … | head`: a reader that stops early is not an error (a running proxy keeps going).
  installStdoutPolicy();
  const capped = await runWithHeapCap(process.argv);
  if (capped !== undefined) {
    process.exitCode = capped;
    return;
  }
  const program = buildProgram();
  const unknown = unknownCommand(program, process.argv[2]);
  if (unknown) {
    process.stderr.write(`mdmtap: ${unknown}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage mistakes exit 2 like every other user mistake.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    reportAndExit(e);
  }
}

/**
 * `start` is the default command, so commander would read a mistyped command as an argument of `start` ("too many
 * arguments"). A first word that names no command is answered here, with the closest one.
 */
export function unknownCommand(program: Command, word: string | undefined): string | undefined {
  if (!word || word.startsWith('-')) return undefined;
  const names = [...program.commands.flatMap((c) => [c.name(), ...c.aliases()]), 'help'];
  if (names.includes(word)) return undefined;
  const [best] = names.map((n) => ({ n, d: distance(word.toLowerCase(), n) })).sort((a, b) => a.d - b.d);
  const close = best && best.d <= Math.max(2, Math.floor(best.n.length / 3));
  return `unknown command '${word}'${close ? ` (did you mean '${best.n}'?)` : ''}; the commands are ${names.filter((n) => n !== 'help').join(', ')}`;
}

/** Edit distance (insertions, deletions, substitutions, swaps of neighbours). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

void main();
