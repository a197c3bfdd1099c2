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

  it('a capture that cannot be written is an error event; the proxy keeps serving', async () => {
    const certs = tempDir();
    dirs.push(certs);
    const p = startCli(['start', '--json', '--db', '/proc/mdmtap-cannot-write-here/capture.sqlite', '--host', '127.0.0.1', '--port', '0', '--upstream', 'https://127.0.0.1:1', '--certs', certs.dir]);
    running.push(p);
    const m = await p.waitStderr(/listening on 127\.0\.0\.1:(\d+)/);
    const line = await p.waitStdout(/\{"type":"error"[^\n]*\n/);
    expect(JSON.parse(line[0])).toMatchObject({ kind: 'store' });
    const { plainGet } = await import('../helpers/tls-peers.js');
    expect((await plainGet(Number(m[1]), '/ca.pem')).status).toBe(200);
  });

  it('--apns-cert without --apns-key is one line and exit 2', async () => {
    const r = await runCli(['start', '--no-db', '--upstream', 'https://127.0.0.1:1', '--apns-cert', 'push.pem']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['mdmtap: --apns-cert and --apns-key go together: the push certificate and its private key (PEM)']);
  });

  it('port already in use: one line, exit 1', async () => {
    const certs = tempDir();
    dirs.push(certs);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['start', '--no-db', '--host', '127.0.0.1', '--port', String(port), '--upstream', 'https://127.0.0.1:1', '--certs', certs.dir]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([`mdmtap: port ${port} is already in use on 127.0.0.1`]);
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

describe('mdmtap ca', () => {
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
