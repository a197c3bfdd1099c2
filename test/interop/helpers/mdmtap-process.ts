/**
 * The built mdmtap CLI in reverse mode as a child process, with its JSON-lines events parsed as they arrive.
 */
import { startCli, type Running } from '../../helpers/cli.js';
import type { AnalyzerEvent } from '../../../src/model/events.js';

export interface MdmtapProcess {
  port: number;
  /** Every event printed so far, in order. */
  events(): AnalyzerEvent[];
  /** Resolves once `pred` holds over all the events so far (waiting up to `timeoutMs`). */
  waitUntil(pred: (events: AnalyzerEvent[]) => boolean, label: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the first event matching `pred`. */
  waitEvent(pred: (e: AnalyzerEvent) => boolean, label: string, timeoutMs?: number): Promise<AnalyzerEvent>;
  stderr(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s); resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startMdmtap(args: string[]): Promise<MdmtapProcess> {
  const p: Running = startCli(['start', '--json', '--host', '127.0.0.1', '--port', '0', ...args]);
  let m: RegExpMatchArray;
  try {
    m = await p.waitStderr(/listening on 127\.0\.0\.1:(\d+)/);
  } catch (e) {
    p.child.kill('SIGKILL');
    throw e;
  }
  const events = (): AnalyzerEvent[] =>
    p
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as AnalyzerEvent);
  const waitUntil = async (pred: (all: AnalyzerEvent[]) => boolean, label: string, timeoutMs = 10_000): Promise<void> => {
    const until = Date.now() + timeoutMs;
    while (!pred(events())) {
      if (Date.now() > until || p.child.exitCode !== null) {
        throw new Error(`mdmtap printed no ${label} within ${timeoutMs} ms; its events:\n${p.stdout()}\n--- stderr:\n${p.stderr()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const waitEvent = async (pred: (e: AnalyzerEvent) => boolean, label: string, timeoutMs?: number): Promise<AnalyzerEvent> => {
    let hit: AnalyzerEvent | undefined;
    await waitUntil((all) => (hit = all.find(pred)) !== undefined, label, timeoutMs);
    return hit!;
  };
  let stopping: Promise<number | null> | undefined;
  const stop = (): Promise<number | null> =>
    (stopping ??= (async () => {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
      const code = await p.exited;
      clearTimeout(t);
      return code;
    })());
  return { port: Number(m[1]), events, waitUntil, waitEvent, stderr: p.stderr, stop };
}
