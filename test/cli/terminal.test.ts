/**
 * The dashboard in a real terminal (tmux), as a person sees it: the demo flags a stranded session and quits on q;
 * at 80×24, 120×40 and 200×50 the screen fits and keeps what matters (the listen address, `? help · q quit`); the
 * selected device stays selected while live traffic reorders the rows; `mdmtap view` of a capture a proxy is still
 * writing follows it, and says when it has finished. `.ci/run` installs tmux when missing.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/cli.js';
import { serverLab } from '../helpers/lab.js';
import { strandOneSession } from '../helpers/stranded.js';
import { freePort } from '../helpers/free-port.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const session = `mdmtap-term-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', session);
const dir = mkdtempSync(join(tmpdir(), 'mdmtap-term-'));
const children: ChildProcess[] = [];

async function until(pred: (s: string) => boolean, label: string, limitMs = 40_000): Promise<string> {
  const t0 = Date.now();
  let s = '';
  while (Date.now() - t0 < limitMs) {
    s = screen();
    if (pred(s)) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the screen never showed ${label}:\n${s}`);
}

function start(cols: number, rows: number, args: string): void {
  spawnSync('tmux', ['kill-session', '-t', session]);
  tmux('new-session', '-d', '-s', session, '-x', String(cols), '-y', String(rows), `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ${args}; echo "EXITED $?"; sleep 60`);
}

/** The selected row of the Devices pane: its identity cell. */
function selectedDevice(s: string): string | undefined {
  const lines = s.split('\n');
  const from = lines.findIndex((l) => l.startsWith('Devices ('));
  const to = lines.findIndex((l) => l.startsWith('Exchanges'));
  return lines.slice(from, to).find((l) => l.startsWith('› '))?.slice(2).split(/\s+/)[0];
}

afterEach(() => {
  if (hasTmux) spawnSync('tmux', ['kill-session', '-t', session]);
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasTmux)('the dashboard in a real terminal', () => {
  it('the demo flags a stranded session within seconds and quits on q', async () => {
    start(120, 40, 'demo');
    const s = await until((x) => x.includes('notnow-no-push'), 'notnow-no-push');
    expect(s).toMatch(/mdmtap on 127\.0\.0\.1:\d+ · demo/);
    expect(s).toMatch(/push grace 5s/);
    expect(s.trimEnd().split('\n').length).toBeLessThanOrEqual(40);
    tmux('send-keys', '-t', session, 'q');
    await until((x) => x.includes('EXITED 0'), 'the demo exiting');
  }, 60_000);

  it.each([
    [80, 24],
    [120, 40],
    [200, 50],
  ])('at %i×%i the demo fits the screen and keeps the listen address and `? help · q quit`', async (cols, rows) => {
    start(cols, rows, 'demo --devices 12');
    const s = await until((x) => /devices [1-9]/.test(x) && /Idle → /.test(x), 'traffic');
    const lines = s.trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(rows);
    for (const l of lines) expect([...l].length, l).toBeLessThanOrEqual(cols);
    expect(lines[0]).toMatch(/^mdmtap on 127\.0\.0\.1:\d+/);
    expect(lines.at(-1)).toMatch(/\? help · q quit\s*$/);
    tmux('send-keys', '-t', session, 'q');
    await until((x) => x.includes('EXITED 0'), 'the demo exiting');
  }, 60_000);

  it('the selected device stays selected for seconds of live traffic, and Enter opens that device', async () => {
    start(120, 40, 'demo --devices 12');
    await until((x) => (x.match(/^\s+[0-9A-F]{8}-/gm) ?? []).length >= 6, 'devices');
    tmux('send-keys', '-t', session, 'j', 'j', 'j');
    // Three rows down: the fourth device row carries the mark once the keys are in.
    const first = await until((x) => x.split('\n').filter((l) => /^[› ] [0-9A-F]{8}-/.test(l)).findIndex((l) => l.startsWith('› ')) === 3, 'the fourth device selected');
    const chosen = selectedDevice(first)!;
    const orders = new Set<string>();
    const t0 = Date.now();
    while (Date.now() - t0 < 4000) {
      const s = screen();
      expect(selectedDevice(s)).toBe(chosen);
      orders.add(s.split('\n').filter((l) => /^[› ] [0-9A-F]{8}-/.test(l)).map((l) => l.slice(2, 14)).join(','));
      await new Promise((r) => setTimeout(r, 150));
    }
    // The rows did move under the selection.
    expect(orders.size).toBeGreaterThan(1);
    tmux('send-keys', '-t', session, 'Enter');
    const timeline = await until((x) => x.includes('Enter: exchange detail'), 'the timeline');
    expect(timeline.split('\n').find((l) => l.includes(' · device') || l.includes(' · user'))).toContain(chosen.replace('…', ''));
    tmux('send-keys', '-t', session, 'q');
    await until((x) => x.includes('EXITED 0'), 'the demo exiting');
  }, 60_000);

  it('mdmtap view follows a capture a proxy is writing, and says when the proxy has stopped', async () => {
    const db = join(dir, 'live.sqlite');
    const demo = spawn(process.execPath, [CLI, 'demo', '--json', '--devices', '4', '--db', db], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(demo);
    await new Promise<void>((ok) => demo.stderr!.on('data', (d: Buffer) => d.toString().includes('mdmtap demo on') && ok()));
    // Let it write a few rows first.
    await new Promise((r) => setTimeout(r, 1500));
    start(120, 40, `view ${JSON.stringify(db)}`);
    const s = await until((x) => x.includes('following: a proxy is writing it'), 'following');
    const count = (x: string) => Number(/(\d+) exchanges/.exec(x)?.[1] ?? -1);
    const before = count(s);
    const later = await until((x) => count(x) > before, 'new rows arriving');
    // A followed capture moves, so it can be paused (README: not in a finished one).
    expect(later).toContain('p pause');
    demo.kill('SIGINT');
    await new Promise((r) => demo.once('exit', r));
    const finished = await until((x) => x.includes('finished'), 'the capture finished', 20_000);
    expect(finished).not.toContain('p pause');
    tmux('send-keys', '-t', session, 'q');
    await until((x) => x.includes('EXITED 0'), 'view exiting');
  }, 60_000);

  it('start --plain prints one readable line per verdict instead of the dashboard', async () => {
    const lab = await serverLab('keep-going');
    try {
      const port = await freePort();
      start(160, 30, `${lab.forwardArgs('--plain', '--no-db', '--push-grace', '1s').map((a) => (a === '0' ? String(port) : JSON.stringify(a))).join(' ')}`);
      await until((x) => x.includes(`listening on 127.0.0.1:${port}`), 'listening');
      const device = await strandOneSession(lab.server, port, lab.certs, 7);
      const s = await until((x) => x.includes('WARNING notnow-no-push'), 'the verdict line');
      const lines = s.split('\n').filter((l) => l.includes(device.udid));
      expect(lines.some((l) => / session stranded \(last status Acknowledged\)/.test(l))).toBe(true);
      expect(lines.some((l) => / push owed by \d\d:\d\d:\d\d/.test(l))).toBe(true);
      // No dashboard: no panes, no key help.
      expect(s).not.toContain('q quit');
      expect(s).not.toMatch(/^Devices \(/m);
      tmux('send-keys', '-t', session, 'C-c');
      await until((x) => x.includes('EXITED 0'), 'start exiting on Ctrl-C');
    } finally {
      await lab.close();
    }
  }, 60_000);

  it.each(['SIGTERM', 'SIGINT'] as const)('start with the dashboard stops cleanly on %s: exit 0, the run recorded as stopped', async (signal) => {
    const lab = await serverLab('keep-going');
    try {
      const port = await freePort();
      const db = join(dir, `signal-${signal}.sqlite`);
      start(120, 40, `${lab.forwardArgs('--db', db).map((a) => (a === '0' ? String(port) : JSON.stringify(a))).join(' ')}`);
      await until((x) => x.includes('? help · q quit'), 'the dashboard');
      await strandOneSession(lab.server, port, lab.certs, 11);
      const pid = tmux('list-panes', '-t', session, '-F', '#{pane_pid}').trim();
      // The shell runs node as its child: signal node, as a service manager or kill would.
      const node = execFileSync('pgrep', ['-P', pid], { encoding: 'utf8' }).trim().split('\n')[0];
      process.kill(Number(node), signal);
      await until((x) => x.includes('EXITED 0'), `start exiting 0 on ${signal}`);
      const raw = new Database(db, { readonly: true });
      const run = raw.prepare('SELECT stopped_at FROM runs ORDER BY id DESC LIMIT 1').get() as { stopped_at: string | null };
      raw.close();
      expect(run.stopped_at).toBeTruthy();
    } finally {
      await lab.close();
    }
  }, 60_000);
});
