/**
 * The capture flags of `mdmtap start`, on a real child process in front of a reference MDM server, read back from
 * the real SQLite file: the default file in the working folder, --no-db, --no-bodies and --keep-secrets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCli } from '../helpers/cli.js';
import { listeningPort, query, serverLab, stop, type ServerLab } from '../helpers/lab.js';
import { strandOneSession } from '../helpers/stranded.js';
import type { SimDevice } from '../../src/sim/device.js';

let lab: ServerLab;
let seed = 40;
beforeAll(async () => {
  lab = await serverLab('keep-going');
});
afterAll(() => lab.close());

/** Runs mdmtap with these extra flags in `cwd` while a device strands one session through it, then stops it. */
async function captureRun(cwd: string, ...flags: string[]): Promise<{ device: SimDevice; stderr: string; code: number | null }> {
  const p = startCli(lab.forwardArgs('--json', ...flags), { cwd });
  const port = await listeningPort(p);
  const device = await strandOneSession(lab.server, port, lab.certs, ++seed);
  await p.waitStdout(/"type":"obligation"[^\n]*"event":"open"/);
  const code = await stop(p);
  return { device, stderr: p.stderr(), code };
}

// Bodies are stored once each (`bodies`); the `exchange_bodies` view gives them per exchange.
const TOKEN_UPDATE = `SELECT b.request_body FROM exchanges e JOIN exchange_bodies b ON b.id = e.id WHERE e.message_type = 'TokenUpdate'`;

describe('mdmtap start: the capture', () => {
  it('without --db records to mdmtap.sqlite in the working folder, redacted; with --no-db writes no file', async () => {
    const cwd = lab.folder('default-db');
    const run = await captureRun(cwd);
    expect(run.code).toBe(0);
    const file = join(cwd, 'mdmtap.sqlite');
    expect(run.stderr).toContain(`capture ${file}`);
    const rows = query<{ status: string | null; request_type: string | null }>(file, 'SELECT status, request_type FROM exchanges ORDER BY ended_ms');
    expect(rows.map((r) => r.status)).toEqual(expect.arrayContaining(['Idle', 'NotNow', 'Acknowledged']));
    const body = query<{ request_body: Buffer }>(file, TOKEN_UPDATE)[0].request_body.toString();
    expect(body).toContain('TokenUpdate');
    expect(body).not.toContain(run.device.pushMagic.device);
    expect(body).toMatch(/&lt;redacted:[0-9a-f]{8}&gt;/);

    const off = lab.folder('no-db');
    const none = await captureRun(off, '--no-db');
    expect(none.code).toBe(0);
    expect(none.stderr).toContain('capture off (--no-db)');
    expect(readdirSync(off)).toEqual([]);
  });

  it('--no-bodies keeps every exchange with its metadata and no body', async () => {
    const file = join(lab.folder('no-bodies'), 'cap.sqlite');
    await captureRun(lab.dir, '--db', file, '--no-bodies');
    const rows = query<{ message_type: string | null; status: string | null; request_type: string | null; request_body: Buffer | null; response_body: Buffer | null }>(
      file,
      'SELECT message_type, status, request_type, b.request_body, b.response_body FROM exchanges e JOIN exchange_bodies b ON b.id = e.id ORDER BY ended_ms',
    );
    // Authenticate, TokenUpdate, then Idle → InstallProfile, NotNow → SecurityInfo, Acknowledged → end.
    expect(rows.map((r) => r.message_type ?? r.status)).toEqual(['Authenticate', 'TokenUpdate', 'Idle', 'NotNow', 'Acknowledged']);
    expect(rows.map((r) => r.request_type)).toEqual([null, null, 'InstallProfile', 'SecurityInfo', null]);
    expect(rows.filter((r) => r.request_body !== null || r.response_body !== null)).toEqual([]);
    // The verdict does not need the bodies: the session and its obligation are recorded.
    expect(query(file, 'SELECT outcome FROM sessions')).toEqual([{ outcome: 'stranded' }]);
  });

  it('--keep-secrets stores bodies as they came, says so on every start, and marks the file', async () => {
    const file = join(lab.folder('keep-secrets'), 'cap.sqlite');
    const run = await captureRun(lab.dir, '--db', file, '--keep-secrets');
    expect(run.stderr).toMatch(/^WARNING: --keep-secrets: raw bodies and headers, with push tokens, PushMagic, PINs and passwords, are stored unredacted\.$/m);
    const body = query<{ request_body: Buffer }>(file, TOKEN_UPDATE)[0].request_body.toString();
    expect(body).toContain(`<string>${run.device.pushMagic.device}</string>`);
    expect(query(file, `SELECT value FROM meta WHERE key = 'keep_secrets'`)).toEqual([{ value: 'yes' }]);
    expect(query(file, 'SELECT keep_secrets FROM runs')).toEqual([{ keep_secrets: 1 }]);
    // Said again on the next start, and the file stays marked even when that run keeps none.
    const again = await captureRun(lab.dir, '--db', file);
    expect(again.stderr).not.toContain('--keep-secrets');
    expect(query(file, `SELECT value FROM meta WHERE key = 'keep_secrets'`)).toEqual([{ value: 'yes' }]);
    expect(query(file, 'SELECT keep_secrets FROM runs ORDER BY id')).toEqual([{ keep_secrets: 1 }, { keep_secrets: 0 }]);
    expect(existsSync(file)).toBe(true);
  });
});
