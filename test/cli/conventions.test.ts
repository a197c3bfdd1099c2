/**
 * The command line's conventions, through the real binary: one wording and one exit code per kind of mistake in
 * every command, defaults shown as they are typed, conflicting options refused, the closest command suggested,
 * `-` for stdin, the export format from the output's name, and a proxy that outlives its stdout's reader.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, startCli } from '../helpers/cli.js';
import { harOf } from '../helpers/har.js';
import { commandBody, idle, status } from '../helpers/mdm-bodies.js';
import { plainGet } from '../helpers/tls-peers.js';

let dir: string;
let har: string;
let db: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdmtap-conv-'));
  har = join(dir, 'keep-going.har');
  writeFileSync(
    har,
    harOf([
      { at: 0, requestBody: idle(), responseBody: commandBody('A', 'InstallProfile') },
      { at: 100, requestBody: status('NotNow', 'A'), responseBody: commandBody('B', 'ProfileList') },
      { at: 200, requestBody: status('Acknowledged', 'B'), responseBody: Buffer.alloc(0) },
      { at: 400_000, requestBody: idle(), responseBody: Buffer.alloc(0) },
    ]),
  );
  // An mdmtap capture to export: the demo's, a few seconds of it.
  db = join(dir, 'demo.sqlite');
  const demo = startCli(['demo', '--json', '--devices', '3', '--db', db]);
  await demo.waitStdout(/"type":"exchange"/);
  demo.child.kill('SIGINT');
  await demo.exited;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const oneLine = (stderr: string) => stderr.trim().split('\n');

describe('one wording and one exit code per kind of mistake', () => {
  it.each([
    ['analyze', []],
    ['view', ['--report']],
    ['export', ['--format', 'csv']],
  ])('%s: a directory and a missing file are said alike, exit 2', async (command, extra) => {
    const isDir = await runCli([command, dir, ...extra]);
    expect(isDir.code).toBe(2);
    expect(oneLine(isDir.stderr)).toEqual([`mdmtap: cannot read ${dir}: it is a directory`]);
    const missing = join(dir, 'nope.sqlite');
    const none = await runCli([command, missing, ...extra]);
    expect(none.code).toBe(2);
    expect(oneLine(none.stderr)).toEqual([`mdmtap: cannot read ${missing}: no such file`]);
  });

  it.each([
    [['--mdm-host', ''], 'mdmtap: --mdm-host: "" is not HOST[:PORT]'],
    [['--mdm-host', 'mdm.example.com:99999'], 'mdmtap: --mdm-host: "mdm.example.com:99999": port must be 1-65535'],
    [['--mdm-host', 'mdm example.com'], 'mdmtap: --mdm-host: "mdm example.com" is not a host name or address'],
    [['--upstream', 'https://127.0.0.1:1', '--client-cert-header', 'X Client Cert'], 'mdmtap: --client-cert-header: "X Client Cert" is not a header name (letters, digits and - _ . and the like, no spaces)'],
  ])('start %j: one line, exit 2, nothing on stdout', async (args, line) => {
    const r = await runCli(['start', '--json', '--no-db', '--certs', join(dir, 'certs'), ...args]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toEqual([line]);
    expect(r.stdout).toBe('');
  });

  it('an unknown command is answered with the closest one, exit 2', async () => {
    const r = await runCli(['anlyze', har]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toEqual(["mdmtap: unknown command 'anlyze' (did you mean 'analyze'?); the commands are start, analyze, export, view, demo, ca"]);
  });

  it('conflicting options are refused in one line, exit 2', async () => {
    for (const args of [
      ['start', '--no-db', '--upstream', 'https://127.0.0.1:1', '--mdm-host', 'mdm.example.com'],
      ['start', '--no-db', '--upstream', 'https://127.0.0.1:1', '--json', '--plain'],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/^mdmtap: option '--\w+.*' cannot be used with option '--[\w-]+.*'$/)]);
    }
  });

  it('--help shows durations and sizes as they are typed', async () => {
    const r = await runCli(['start', '--help'], { env: { COLUMNS: '300' } });
    const help = r.stdout.replace(/\s+/g, ' ');
    for (const d of ['(default: 2m)', '(default: 1m)', '(default: 5m)', '(default: 1h)', '(default: 16MiB)', '(default: 256MiB)', '(default: 10s)', '(default: 30s)']) expect(help).toContain(d);
    // Ports and counts stay numbers; no duration or size is shown in raw ms or bytes.
    expect(help).not.toMatch(/default: \d{5,}\)/);
    expect((await runCli(['demo', '--help'])).stdout.replace(/\s+/g, ' ')).toContain('(default: 5s)');
  });
});

describe('inputs and outputs', () => {
  it('analyze - reads a capture from stdin and reports it as the file would be', async () => {
    const fromFile = await runCli(['analyze', har, '--json']);
    const fromStdin = await runCli(['analyze', '-', '--json'], { input: readFileSync(har) });
    expect(fromStdin.code).toBe(1);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    expect(fromStdin.stdout).toContain('"rule":"notnow-no-push"');
    const report = await runCli(['analyze', '-'], { input: readFileSync(har) });
    expect(report.stdout).toMatch(/^mdmtap analyze: stdin \(har, 4 exchanges\)/);
  });

  it('export takes its format from the output name, and refuses a format it does not know', async () => {
    const out = join(dir, 'out');
    mkdirSync(out);
    expect((await runCli(['export', db, '-o', join(out, 'fleet.har')])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'fleet.har'), 'utf8')).log.entries.length).toBeGreaterThan(0);
    expect((await runCli(['export', db, '-o', join(out, 'events.jsonl')])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'events.jsonl'), 'utf8').split('\n')[0]).type).toBe('capture');
    expect((await runCli(['export', db, '-o', join(out, 'rows.csv')])).code).toBe(0);
    expect(readFileSync(join(out, 'rows.csv'), 'utf8')).toMatch(/^time,udid,channel/);
    const unknown = await runCli(['export', db, '-o', join(out, 'rows.txt')]);
    expect(unknown.code).toBe(2);
    expect(oneLine(unknown.stderr)).toEqual([`mdmtap: --format: give one of har, jsonl, csv; "${join(out, 'rows.txt')}" does not end in .har, .jsonl or .csv`]);
    const bad = await runCli(['export', db, '--format', 'xml']);
    expect(bad.code).toBe(2);
    expect(oneLine(bad.stderr)).toEqual([expect.stringMatching(/^mdmtap: option '--format <format>' argument 'xml' is invalid\. Allowed choices are har, jsonl, csv\.$/)]);
  });

  it('export never destroys the capture and never reports a failed write as done', async () => {
    const before = readFileSync(db);
    const self = await runCli(['export', db, '--format', 'csv', '-o', db]);
    expect(self.code).toBe(2);
    expect(oneLine(self.stderr)).toEqual([`mdmtap: -o ${db} is the capture itself: give another file`]);
    expect(readFileSync(db).equals(before)).toBe(true);
    const folder = await runCli(['export', db, '--format', 'har', '-o', dir]);
    expect(folder.code).toBe(2);
    expect(oneLine(folder.stderr)).toEqual([`mdmtap: cannot write ${dir}: it is a directory`]);
    if (existsSync('/dev/full')) {
      for (const format of ['har', 'jsonl', 'csv']) {
        const full = await runCli(['export', db, '--format', format, '-o', '/dev/full']);
        expect(full.code, format).toBe(2);
        expect(oneLine(full.stderr), format).toEqual(['mdmtap: cannot write /dev/full: no space left on the device']);
      }
    }
  });

  it('a proxy whose stdout reader goes away keeps serving, says so once, and stops cleanly', async () => {
    const certs = join(dir, 'certs');
    const p = startCli(['start', '--json', '--no-db', '--host', '127.0.0.1', '--port', '0', '--upstream', 'https://127.0.0.1:1', '--certs', certs]);
    const m = await p.waitStderr(/listening on 127\.0\.0\.1:(\d+)/);
    await p.waitStdout(/"type":"capture"/);
    // The reader leaves; the next event (a refused request is one) meets a closed pipe.
    p.child.stdout!.destroy();
    await plainGet(Number(m[1]), 'http://elsewhere.example/');
    await p.waitStderr(/stdout was closed by its reader/);
    expect((await plainGet(Number(m[1]), '/ca.pem')).status).toBe(200);
    expect((await plainGet(Number(m[1]), 'http://elsewhere.example/')).status).toBe(403);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.stderr().match(/stdout was closed/g)).toHaveLength(1);
  });
});

describe('notices a person cannot miss', () => {
  it('--insecure-upstream and --keep-secrets come first on stderr, before the listening line', async () => {
    const p = startCli(['start', '--json', '--insecure-upstream', '--keep-secrets', '--db', join(dir, 'secrets.sqlite'), '--host', '127.0.0.1', '--port', '0', '--upstream', 'https://127.0.0.1:1', '--certs', join(dir, 'certs')]);
    await p.waitStderr(/listening on/);
    const lines = p.stderr().split('\n');
    expect(lines[0]).toBe('WARNING: --insecure-upstream: the upstream server certificate is NOT verified.');
    expect(lines[1]).toMatch(/^WARNING: --keep-secrets: raw bodies and headers, with push tokens, PushMagic, PINs and passwords, are stored unredacted\.$/);
    expect(lines[2]).toMatch(/^mdmtap listening on/);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});

describe('npm run demo', () => {
  it('does not rebuild when dist/ is current', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const main = join(root, 'dist', 'src', 'cli', 'main.js');
    const before = statSync(main).mtimeMs;
    const out = execFileSync(process.execPath, [join(root, 'scripts', 'build-if-stale.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toBe('');
    expect(statSync(main).mtimeMs).toBe(before);
  });
});
