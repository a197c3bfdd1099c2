import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, runCli } from '../helpers/cli.js';
import { harOf, type HarStep } from '../helpers/har.js';
import { checkin, commandBody, idle, status } from '../helpers/mdm-bodies.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdmtap-analyze-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const A = 'aaaaaaaa-0000-0000-0000-000000000001';
const B = 'bbbbbbbb-0000-0000-0000-000000000002';

/** A server that keeps going after NotNow and never pushes: the mission's bug. */
const keepGoing: HarStep[] = [
  { at: 0, requestBody: idle(), responseBody: commandBody(A, 'InstallProfile') },
  { at: 100, requestBody: status('NotNow', A), responseBody: commandBody(B, 'ProfileList') },
  { at: 200, requestBody: status('Acknowledged', B), responseBody: Buffer.alloc(0) },
];

/** Apple-correct: stop after NotNow, resend on the device's next poll. */
const appleCorrect: HarStep[] = [
  { at: 0, requestBody: idle(), responseBody: commandBody(A, 'InstallProfile') },
  { at: 100, requestBody: status('NotNow', A), responseBody: Buffer.alloc(0) },
  { at: 60_000, requestBody: idle(), responseBody: commandBody(A, 'InstallProfile') },
  { at: 60_100, requestBody: status('Acknowledged', A), responseBody: Buffer.alloc(0) },
];

/** Something unrelated that moves the capture's clock past the push grace. */
const later = (at: number): HarStep => ({ at, host: 'other.example.com', method: 'GET', contentType: 'text/html', requestBody: undefined, responseBody: Buffer.from('<html></html>'), encoding: 'text' });

describe('mdmtap analyze (child process)', () => {
  it('reports a stranded session and exits 1 once the push grace has passed', async () => {
    const file = write('keep-going.har', harOf([...keepGoing, later(200_000)]));
    const r = await runCli(['analyze', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('notnow-no-push');
    expect(r.stdout).toMatch(/stranded/);
    expect(r.stdout).toContain('InstallProfile');
  });

  it('judges deadlines against the capture end: an obligation still open is pending, exit 0', async () => {
    const file = write('keep-going-short.har', harOf(keepGoing));
    const r = await runCli(['analyze', file, '--json']);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.some((e) => e.type === 'warning')).toBe(false);
    const pending = events.filter((e) => e.type === 'obligation' && e.event === 'pending');
    expect(pending).toHaveLength(1);
    const end = events.find((e) => e.type === 'session' && e.event === 'end');
    expect(end).toMatchObject({ outcome: 'stranded', lastStatus: 'Acknowledged', notNowCommands: [A] });
  });

  it('--push-grace changes the verdict', async () => {
    const file = write('keep-going-mid.har', harOf([...keepGoing, later(60_000)]));
    expect((await runCli(['analyze', file])).code).toBe(0);
    expect((await runCli(['analyze', file, '--push-grace', '30s'])).code).toBe(1);
  });

  it('stays quiet on an Apple-correct stop-and-resend, in plain-text bodies and out of order', async () => {
    const steps = appleCorrect.map((s) => ({ ...s, encoding: 'text' as const })).reverse();
    const file = write('apple.har', harOf([...steps, later(400_000)]));
    const r = await runCli(['analyze', file, '--json']);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const outcomes = events.filter((e) => e.type === 'session' && e.event === 'end').map((e) => e.outcome);
    expect(outcomes).toEqual(['ended-on-notnow', 'clean']);
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
    for (const e of events) expect(typeof e.ts).toBe('string');
  });

  it('a malformed body in the middle is flagged and the rest still analysed', async () => {
    const broken: HarStep = { at: 150, requestBody: Buffer.from('<?xml version="1.0"?><plist><dict><key>Status</key><string>Ack') };
    const file = write('malformed.har', harOf([keepGoing[0], keepGoing[1], broken, keepGoing[2], later(200_000)]));
    const r = await runCli(['analyze', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('malformed-body');
    expect(r.stdout).toContain('notnow-no-push');
  });

  it('a failed request (HAR status 0) interrupts the session', async () => {
    const steps: HarStep[] = [
      { at: 0, requestBody: idle(), responseBody: commandBody(A, 'InstallProfile') },
      { at: 100, requestBody: status('Acknowledged', A), status: 0, omitResponseContent: true, error: 'net::ERR_CONNECTION_RESET' },
    ];
    const r = await runCli(['analyze', write('failed.har', harOf([...steps, later(300_000)])), '--json']);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === 'session' && e.event === 'end')).toMatchObject({ outcome: 'interrupted' });
    expect(events.some((e) => e.type === 'warning' && e.rule === 'interrupted-no-push')).toBe(true);
    expect(r.code).toBe(1);
  });

  it('reads its own JSON lines back to the same verdict', async () => {
    const har = write('again.har', harOf([...keepGoing, later(200_000)]));
    const first = await runCli(['analyze', har, '--json']);
    const jsonl = write('again.jsonl', first.stdout);
    const second = await runCli(['analyze', jsonl, '--json']);
    expect(second.code).toBe(first.code);
    const rules = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'warning').map((e) => e.rule);
    expect(rules(second.stdout)).toEqual(rules(first.stdout));
  });

  it('unreadable input: one line on stderr, exit 2', async () => {
    const bad = write('bad.har', '{"log": {"entries": [');
    const r = await runCli(['analyze', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^mdmtap: /);
    expect(r.stdout).toBe('');
    const missing = await runCli(['analyze', join(dir, 'nope.har')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no such file/);
    const garbage = await runCli(['analyze', write('garbage.bin', 'hello world')]);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('stops quietly when its reader does (mdmtap analyze … | head)', async () => {
    const many: HarStep[] = [];
    for (let i = 0; i < 1500; i++) many.push({ at: i * 10, requestBody: idle(), responseBody: Buffer.alloc(0) });
    const file = write('many.har', harOf(many));
    const r = await new Promise<{ code: number | null; stderr: string }>((res) => {
      const child = spawn(process.execPath, [CLI, 'analyze', file, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      // Read one chunk, then hang up, as `head -c` does.
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', (code) => res({ code, stderr }));
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it("reads a third-party HAR's APNs requests as pushes, mapped by token, and never prints the PushMagic", async () => {
    const token = Buffer.from('5d1a9f0b4c2e7d3f8a6b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f', 'hex');
    const magic = 'PUSHMAGIC-7f3e-secret';
    const push = (at: number): HarStep => ({
      at, host: 'api.push.apple.com', path: `/3/device/${token.toString('hex')}`, method: 'POST', contentType: 'application/json',
      requestBody: Buffer.from(JSON.stringify({ mdm: magic })), responseBody: Buffer.alloc(0), encoding: 'text',
    });
    const enrolled: HarStep = {
      at: -1000, contentType: 'application/x-apple-aspen-mdm-checkin',
      requestBody: checkin('TokenUpdate', { Token: token, PushMagic: magic, Topic: 'com.apple.mgmt.External.x' }), responseBody: Buffer.alloc(0),
    };
    // The server strands A, then pushes 5 s later (as mitmproxy or Charles recorded it beside the devices' traffic).
    const file = write('third-party.har', harOf([enrolled, ...keepGoing, push(5_200), later(200_000)]));
    const r = await runCli(['analyze', file, '--json']);
    expect(r.stdout).not.toContain(magic);
    expect(r.stdout).not.toContain(token.toString('hex'));
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.type === 'push')).toMatchObject([{ udid: expect.any(String), channel: 'device', apnsStatus: 200, tokenHex: '5d1a9f0b…' }]);
    expect(events.filter((e) => e.type === 'obligation').map((e) => `${e.event}/${e.by ?? ''}`)).toEqual(['open/', 'discharged/push']);
    expect(events.filter((e) => e.type === 'warning' && e.severity === 'warning')).toEqual([]);
    expect(r.code).toBe(0);
    // Without the push, the same traffic is a stranded command.
    expect((await runCli(['analyze', write('no-push.har', harOf([enrolled, ...keepGoing, later(200_000)]))])).code).toBe(1);
  });

  it('lists the sessions still open when the capture ends instead of dropping them', async () => {
    const file = write('cut.har', harOf([keepGoing[0], keepGoing[1]]));
    const r = await runCli(['analyze', file]);
    expect(r.stdout).toMatch(/still open at the end of the capture/);
    const json = (await runCli(['analyze', file, '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(json.filter((e) => e.type === 'session' && e.event === 'pending')).toMatchObject([{ lastStatus: 'NotNow' }]);
  });

  it('a report the server refused (401) is device-rejected, not a NotNow fault', async () => {
    const steps: HarStep[] = [
      { at: 0, requestBody: idle(), responseBody: commandBody(A, 'InstallProfile') },
      { at: 100, requestBody: status('NotNow', A), responseBody: commandBody(B, 'ProfileList') },
      { at: 200, requestBody: status('Acknowledged', B), status: 401, responseBody: Buffer.from('Unauthorized') },
    ];
    const r = await runCli(['analyze', write('rejected.har', harOf([...steps, later(400_000)])), '--json']);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === 'session' && e.event === 'end')).toMatchObject({ outcome: 'interrupted', reason: 'rejected' });
    expect(events.filter((e) => e.type === 'obligation')).toEqual([]);
    expect(events.filter((e) => e.type === 'warning').map((e) => `${e.rule}/${e.severity}`)).toEqual(['device-rejected/info']);
    expect(r.code).toBe(0);
  });

  it('a bad flag value is one line and a non-zero exit', async () => {
    const r = await runCli(['analyze', 'x.har', '--push-grace', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--push-grace/);
    expect(r.stderr).not.toMatch(/at .*\.js/);
  });
});
