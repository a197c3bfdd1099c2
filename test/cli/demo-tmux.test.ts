/**
 * The demo in a real terminal: tmux runs `mdmtap demo`, and the screen (capture-pane) must show a stranded session
 * flagged `notnow-no-push`; `q` must end everything. `.ci/run` installs tmux when missing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { CLI } from '../helpers/cli.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const session = `mdmtap-smoke-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', session);

async function until(pred: (s: string) => boolean, label: string, limitMs = 40_000): Promise<string> {
  const t0 = Date.now();
  let s = '';
  while (Date.now() - t0 < limitMs) {
    s = screen();
    if (pred(s)) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the screen never showed ${label}:\n${s}`);
}

afterAll(() => {
  if (hasTmux) spawnSync('tmux', ['kill-session', '-t', session]);
});

describe.skipIf(!hasTmux)('mdmtap demo in a real terminal', () => {
  it('flags a stranded session within seconds and quits on q', async () => {
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} demo; echo "DEMO-EXITED $?"; sleep 60`);
    const s = await until((x) => x.includes('notnow-no-push'), 'notnow-no-push');
    expect(s).toContain('mdmtap demo');
    expect(s).toMatch(/push grace 5s/);
    expect(s.trimEnd().split('\n').length).toBeLessThanOrEqual(40);
    tmux('send-keys', '-t', session, 'q');
    await until((x) => x.includes('DEMO-EXITED 0'), 'the demo exiting');
  }, 60_000);
});
