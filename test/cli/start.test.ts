import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { runCli, startCli, type Running } from '../helpers/cli.js';
import { connectTls, requestOver, tempDir } from '../helpers/tls-peers.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const running: Running[] = [];
const dirs: Array<{ remove(): void }> = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.child.kill('SIGTERM');
    await r.exited;
  }
  for (const d of dirs.splice(0)) d.remove();
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('mdmtap start', () => {
  it('without --mdm-host or --upstream explains what to pass and exits 2', async () => {
    const r = await runCli(['start', '--no-db']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--mdm-host.*--upstream/);
  });

  it('runs headless with --json: an unreachable server gives the device 502 and an error event; SIGTERM stops it', async () => {
    const certs = tempDir();
    dirs.push(certs);
    const dead = await freePort();
    const p = startCli(['start', '--json', '--no-db', '--host', '127.0.0.1', '--port', '0', '--mdm-host', `127.0.0.1:${dead}`, '--certs', certs.dir]);
    running.push(p);
    const m = await p.waitStderr(/listening on 127\.0\.0\.1:(\d+)/);
    expect(p.stderr()).toMatch(/SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    const ca = readFileSync(join(certs.dir, 'ca.pem'), 'utf8');
    const s = await connectTls(Number(m[1]), `127.0.0.1:${dead}`, ca);
    const res = await requestOver(s, { body: Buffer.from('x') });
    s.destroy();
    expect(res.status).toBe(502);
    const line = await p.waitStdout(/\{"type":"error".*\n/);
    expect(JSON.parse(line[0])).toMatchObject({ type: 'error', kind: 'upstream-unreachable' });
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    running.pop();
  });

  it('never shows or records the password of an --upstream URL', async () => {
    const work = tempDir();
    dirs.push(work);
    const db = join(work.dir, 'c.sqlite');
    const dead = await freePort();
    const p = startCli(['start', '--json', '--db', db, '--host', '127.0.0.1', '--port', '0', '--upstream', `https://admin:hunter2-secret@127.0.0.1:${dead}/mdm`, '--certs', join(work.dir, 'certs')]);
    running.push(p);
    await p.waitStderr(/listening on 127\.0\.0\.1:(\d+)/);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    running.pop();
    expect(p.stderr()).toContain('reverse proxy to https://redacted@127.0.0.1:');
    expect(p.stderr()).not.toContain('hunter2');
    const files = [db, `${db}-wal`].filter((f) => { try { readFileSync(f); return true; } catch { return false; } });
    for (const f of files) expect(readFileSync(f).includes('hunter2')).toBe(false);
    expect(readFileSync(db).includes('redacted@127.0.0.1')).toBe(true);
  });

  it('a capture that cannot be created stops the start: one line, exit 2, nothing listening', async () => {
    const certs = tempDir();
    dirs.push(certs);
    // Not even root can create a file under /proc.
    const r = await runCli(['start', '--json', '--db', '/proc/mdmtap-cannot-write-here/capture.sqlite', '--host', '127.0.0.1', '--port', '0', '--upstream', 'https://127.0.0.1:1', '--certs', certs.dir]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^mdmtap: --db: cannot open the capture \/proc\/mdmtap-cannot-write-here\/capture\.sqlite: .+ \(--no-db runs without a capture\)$/)]);
    expect(r.stdout).toBe('');
  });

  it('--db naming a directory, or an SQLite file that is not an mdmtap capture: one line, exit 2, the file untouched', async () => {
    const certs = tempDir();
    dirs.push(certs);
    const args = ['--host', '127.0.0.1', '--port', '0', '--upstream', 'https://127.0.0.1:1', '--certs', certs.dir];
    const dir = await runCli(['start', '--json', '--db', certs.dir, ...args]);
    expect(dir.code).toBe(2);
    expect(dir.stderr.trim()).toBe(`mdmtap: --db: cannot open the capture ${certs.dir}: it is a directory (--no-db runs without a capture)`);
    const { default: Database } = await import('better-sqlite3');
    const other = join(certs.dir, 'someone-elses.sqlite');
    const db = new Database(other);
    db.exec("CREATE TABLE inventory (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO inventory (name) VALUES ('keep me');");
    db.close();
    const before = readFileSync(other);
    const r = await runCli(['start', '--json', '--db', other, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`mdmtap: --db: cannot open the capture ${other}: an SQLite database that is not an mdmtap capture (mdmtap will not write into it) (--no-db runs without a capture)`);
    expect(readFileSync(other).equals(before)).toBe(true);
  });

  it('--apns-cert without --apns-key is one line and exit 2', async () => {
    const r = await runCli(['start', '--no-db', '--upstream', 'https://127.0.0.1:1', '--apns-cert', 'push.pem']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['mdmtap: --apns-cert and --apns-key go together: the push certificate and its private key (PEM)']);
  });

  it('port already in use: one line, exit 2 (a user mistake)', async () => {
    const certs = tempDir();
    dirs.push(certs);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['start', '--no-db', '--host', '127.0.0.1', '--port', String(port), '--upstream', 'https://127.0.0.1:1', '--certs', certs.dir]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([`mdmtap: port ${port} is already in use on 127.0.0.1 (choose another with --port)`]);
    } finally {
      blocker.close();
    }
  });

  it('warns on every start with --insecure-upstream and rejects a bad --upstream', async () => {
    const certs = tempDir();
    dirs.push(certs);
    const p = startCli(['start', '--json', '--no-db', '--host', '127.0.0.1', '--port', '0', '--upstream', 'https://127.0.0.1:1', '--insecure-upstream', '--certs', certs.dir]);
    running.push(p);
    await p.waitStderr(/WARNING: --insecure-upstream/);
    const bad = await runCli(['start', '--no-db', '--upstream', 'not a url']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('mdmtap start: the boundary and limit flags', () => {
  it('a bad or contradictory value is one line and exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--mdm-host', 'mdm.example.com', '--upstream', 'https://mdm.example.com/'], /--upstream .* cannot be used with .*--mdm-host/],
      [['--upstream', 'https://127.0.0.1:1', '--allow-client', 'everyone'], /--allow-client: "everyone" is not an address or CIDR block/],
      [['--upstream', 'https://127.0.0.1:1', '--allow-client', '10.0.0.0/40'], /prefix length must be 0-32/],
      [['--mdm-host', 'mdm.example.com', '--server-name', 'mdmtap.lan'], /--server-name is for reverse mode/],
      [['--upstream', 'https://127.0.0.1:1', '--max-connections', '0'], /--max-connections: "0" is not a whole number of at least 1/],
      [['--upstream', 'https://127.0.0.1:1', '--header-timeout', '0'], /--header-timeout: "0" is too short/],
      [['--upstream', 'https://127.0.0.1:1', '--idle-timeout', 'soon'], /--idle-timeout: "soon" is not a duration/],
      [['--upstream', 'https://127.0.0.1:1', '--body-budget', 'lots'], /--body-budget: "lots" is not a size/],
      [['--upstream', 'https://127.0.0.1:1', '--ca-key-type', 'dsa'], /--ca-key-type: "dsa" is not one of p256, rsa/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['start', '--no-db', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('says at start which clients it admits', async () => {
    const certs = tempDir();
    dirs.push(certs);
    const p = startCli(['start', '--json', '--no-db', '--host', '127.0.0.1', '--port', '0', '--upstream', 'https://127.0.0.1:1', '--allow-client', '203.0.113.0/24', '--max-connections', '64', '--certs', certs.dir]);
    running.push(p);
    await p.waitStderr(/clients: loopback, private and link-local addresses and 203\.0\.113\.0\/24; at most 64 connections/);
  });
});

describe('mdmtap ca', () => {
  it('--ca-key-type rsa creates an RSA CA; the default is ECDSA P-256', async () => {
    const { X509Certificate } = await import('node:crypto');
    const rsa = tempDir();
    const ec = tempDir();
    dirs.push(rsa, ec);
    expect((await runCli(['ca', '--certs', rsa.dir, '--ca-key-type', 'rsa'])).stdout).toContain('(RSA key)');
    expect((await runCli(['ca', '--certs', ec.dir])).stdout).toContain('(ECDSA key)');
    expect(new X509Certificate(readFileSync(join(rsa.dir, 'ca.pem'))).publicKey.asymmetricKeyType).toBe('rsa');
    expect(new X509Certificate(readFileSync(join(ec.dir, 'ca.pem'))).publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('creates the CA with a private key of mode 0600 and prints its fingerprint', async () => {
    const certs = tempDir();
    dirs.push(certs);
    const r = await runCli(['ca', '--certs', certs.dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/SHA-256\s+([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    const { statSync } = await import('node:fs');
    expect(statSync(join(certs.dir, 'ca.key')).mode & 0o777).toBe(0o600);
    const again = await runCli(['ca', '--certs', certs.dir]);
    expect(again.stdout).toBe(r.stdout);
  });
});
