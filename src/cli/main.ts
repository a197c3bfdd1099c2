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

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mdmtap')
    .description('A man-in-the-middle proxy for Apple MDM that follows every device session and flags stranded NotNow commands.')
    .version(VERSION)
    .showHelpAfterError('(run mdmtap --help for usage)')
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
  // `mdmtap analyze … | head`: a reader that stops early is not an error, so leave quietly as other tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`mdmtap: cannot write the output: ${e.message}\n`);
    process.exit(1);
  });
  const capped = await runWithHeapCap(process.argv);
  if (capped !== undefined) {
    process.exitCode = capped;
    return;
  }
  const program = buildProgram();
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

void main();
