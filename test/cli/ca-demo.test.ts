/**
 * The README's promises for `mdmtap ca` and `mdmtap demo`, through the real binary: the CA is made once, its key is
 * 0600, `--pem` prints the certificate and nothing else; the demo's --devices, --policy and --push-grace change what
 * it does.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from '../helpers/cli.js';
import { jsonLines } from '../helpers/lab.js';
import { tempDir } from '../helpers/tls-peers.js';

const tmp = tempDir('mdmtap-ca-demo-');
afterAll(() => tmp.remove());

describe('mdmtap ca', () => {
  it('creates the CA once, keeps its key 0600, and --pem prints the certificate only', async () => {
    const certs = join(tmp.dir, 'certs');
    const first = await runCli(['ca', '--certs', certs]);
    expect(first.code).toBe(0);
    const pem = readFileSync(join(certs, 'ca.pem'), 'utf8');
    expect(statSync(join(certs, 'ca.key')).mode & 0o777).toBe(0o600);
    // The fingerprint shown is the certificate's own.
    expect(first.stdout).toContain(new X509Certificate(pem).fingerprint256);
    expect(first.stdout).not.toContain('PRIVATE KEY');

    const again = await runCli(['ca', '--certs', certs, '--pem']);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(pem.trim());
    // The same CA, not a new one.
    expect(readFileSync(join(certs, 'ca.pem'), 'utf8')).toBe(pem);
  });
});

describe('mdmtap demo options', () => {
  /** Runs the demo headless until `enough` holds for its events (or the limit), then stops it as a user does. */
  async function demo(args: string[], enough: (text: string) => boolean, limitMs = 25_000): Promise<Array<Record<string, unknown> & { type: string }>> {
    const p = startCli(['demo', '--json', ...args]);
    const t0 = Date.now();
    await p.waitStderr(/mdmtap demo on/);
    while (!enough(p.stdout()) && Date.now() - t0 < limitMs) await new Promise((r) => setTimeout(r, 200));
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    return jsonLines(p.stdout());
  }
  const udids = (events: Array<Record<string, unknown>>) => new Set(events.filter((e) => e.type === 'exchange' && typeof e.udid === 'string').map((e) => e.udid));

  it('--devices sets the fleet, --policy keep-going strands sessions and --push-grace sets when that is a warning', async () => {
    const events = await demo(['--devices', '3', '--policy', 'keep-going', '--push-grace', '1s'], (t) => t.includes('"rule":"notnow-no-push"'));
    expect(udids(events).size).toBe(3);
    expect(events[0]).toMatchObject({ type: 'capture', event: 'start' });
    expect(JSON.stringify(events[0])).toContain('"pushGraceMs":1000');
    const warning = events.find((e) => e.type === 'warning' && e.rule === 'notnow-no-push');
    expect(warning).toBeDefined();
  }, 40_000);

  it('a demo that cannot start says why in one line, exits 2, and leaves nothing running or on disk', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('mdmtap-demo-ca-')).length;
    try {
      for (const args of [['--port', String(port)], ['--db', '/dev/null/x.sqlite']]) {
        const r = await runCli(['demo', '--json', ...args], { timeoutMs: 20_000 });
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stderr.trim().split('\n'), args.join(' ')).toEqual([expect.stringMatching(/^mdmtap: the demo could not start: /)]);
        expect(r.stderr).not.toContain('--no-db');
      }
    } finally {
      busy.close();
    }
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('mdmtap-demo-ca-')).length).toBeLessThanOrEqual(before);
  });

  it('--policy apple ends refused sessions on NotNow: no session is stranded', async () => {
    const events = await demo(['--devices', '2', '--policy', 'apple', '--push-grace', '1s'], (t) => (t.match(/"outcome":"ended-on-notnow"/g) ?? []).length >= 2);
    expect(udids(events).size).toBe(2);
    const outcomes = events.filter((e) => e.type === 'session' && e.event === 'end').map((e) => e.outcome);
    expect(outcomes).toContain('ended-on-notnow');
    expect(outcomes).not.toContain('stranded');
    expect(events.filter((e) => e.type === 'warning' && e.rule === 'notnow-no-push')).toEqual([]);
  }, 40_000);
});

describe('the demo does DDM', () => {
  it('a dozen devices show an invalid declaration, a DeclarativeManagement command refused in Setup Assistant and a stalled sync', async () => {
    const want = ['ddm-declaration-invalid', 'ddm-notnow-setup', 'ddm-sync-stalled'];
    const p = startCli(['demo', '--json', '--devices', '12', '--push-grace', '1s']);
    try {
      for (const rule of want) await p.waitStdout(new RegExp(`"rule":"${rule}"`));
    } finally {
      p.child.kill('SIGINT');
      await p.exited;
    }
    const events = jsonLines(p.stdout());
    const syncs = events.filter((e) => e.type === 'ddm' && e.event === 'status');
    expect(syncs.length).toBeGreaterThan(0);
    for (const rule of want) expect(events.some((e) => e.type === 'warning' && e.rule === rule), rule).toBe(true);
  }, 40_000);
});
