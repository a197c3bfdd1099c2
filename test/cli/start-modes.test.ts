/**
 * `mdmtap start` promises kept by the real command, on 127.0.0.1: plain HTTP proxied in absolute form in forward
 * mode (recorded and judged for an --mdm-host host, passed on untouched for any other), `start` as the default
 * command with JSON lines whenever stdout is not a terminal, and --insecure-upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import * as plist from 'plist';
import { runCli, startCli, type Running } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { cliLab, jsonLines, listeningPort, stop, type CliLab } from '../helpers/lab.js';
import { requestOver, startUpstream } from '../helpers/tls-peers.js';
import { commandBody, idle, status } from '../helpers/mdm-bodies.js';

let lab: CliLab;
beforeAll(async () => {
  lab = await cliLab();
});
afterAll(() => lab.close());

/** A plain-HTTP server on 127.0.0.1 answering with `reply`; it records what reached it. */
async function plainServer(reply: (body: Buffer, req: http.IncomingMessage) => Buffer): Promise<{ port: number; seen: Array<{ url: string; body: Buffer }>; close(): Promise<void> }> {
  const seen: Array<{ url: string; body: Buffer }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ url: req.url!, body });
      res.end(reply(body, req));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A device whose proxy is mdmtap sending a request in absolute form (`PUT http://host:port/path`). */
function viaProxy(proxyPort: number, url: string, body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: 'PUT', path: url, headers: { host: u.host, 'content-type': 'application/x-apple-aspen-mdm' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function stopped(p: Running): Promise<void> {
  expect(await stop(p)).toBe(0);
}

describe('mdmtap start, forward mode, plain HTTP', () => {
  it('records and judges an --mdm-host host reached in absolute form, and passes any other host on untouched', async () => {
    // An MDM server on plain HTTP that keeps going after NotNow: InstallProfile, refused, then SecurityInfo.
    const mdm = await plainServer((body) => {
      const s = (plist.parse(body.toString()) as { Status: string }).Status;
      return s === 'Idle' ? commandBody('A-1', 'InstallProfile') : s === 'NotNow' ? commandBody('B-2', 'SecurityInfo') : Buffer.alloc(0);
    });
    const other = await plainServer(() => Buffer.from('captive portal: success'));
    const p = startCli(['start', '--json', '--no-db', '--host', '127.0.0.1', '--port', '0', '--mdm-host', `127.0.0.1:${mdm.port}`, '--certs', lab.certs]);
    try {
      const port = await listeningPort(p);
      const sent = [idle(), status('NotNow', 'A-1'), status('Acknowledged', 'B-2')];
      const replies = [];
      for (const body of sent) replies.push(await viaProxy(port, `http://127.0.0.1:${mdm.port}/mdm?x=1`, body));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(replies[0].body).toEqual(commandBody('A-1', 'InstallProfile'));
      // The server got each body byte for byte, at the path in origin form.
      expect(mdm.seen.map((s) => s.url)).toEqual(['/mdm?x=1', '/mdm?x=1', '/mdm?x=1']);
      expect(mdm.seen.map((s) => s.body)).toEqual(sent);
      const passed = await viaProxy(port, `http://127.0.0.1:${other.port}/hotspot-detect.html`, Buffer.from('probe'));
      expect(passed.body.toString()).toBe('captive portal: success');
      expect(other.seen).toHaveLength(1);
      await p.waitStdout(/"type":"obligation"[^\n]*"event":"open"/);
      await stopped(p);
      const events = jsonLines(p.stdout());
      const exchanges = events.filter((e) => e.type === 'exchange');
      expect(exchanges.map((e) => [e.host, e.status, e.requestType ?? null])).toEqual([
        [`127.0.0.1:${mdm.port}`, 'Idle', 'InstallProfile'],
        [`127.0.0.1:${mdm.port}`, 'NotNow', 'SecurityInfo'],
        [`127.0.0.1:${mdm.port}`, 'Acknowledged', null],
      ]);
      expect(events.find((e) => e.type === 'session' && e.event === 'end')).toMatchObject({ outcome: 'stranded', notNowCommands: ['A-1'] });
      expect(JSON.stringify(events)).not.toContain('hotspot-detect');
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await mdm.close();
      await other.close();
    }
  });
});

describe('mdmtap with no command word', () => {
  it('is mdmtap start, and prints JSON lines without --json when stdout is not a terminal', async () => {
    const dead = await freePort();
    const p = startCli(['--no-db', '--host', '127.0.0.1', '--port', '0', '--upstream', `https://127.0.0.1:${dead}/`, '--certs', lab.certs]);
    const port = await listeningPort(p);
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, ca: lab.caPem }, () => resolve(c));
      c.on('error', reject);
    });
    expect((await requestOver(s, { body: idle() })).status).toBe(502);
    s.destroy();
    await p.waitStdout(/"kind":"upstream-unreachable"/);
    await stopped(p);
    const events = jsonLines(p.stdout());
    expect(events[0]).toMatchObject({ type: 'capture', event: 'start' });
    // The device got a 502; the exchange is recorded as failed (no answer from the server).
    expect(events.find((e) => e.type === 'exchange')).toMatchObject({ httpStatus: 0, status: 'Idle' });
    expect(events.at(-1)).toMatchObject({ type: 'capture', event: 'stop' });
    // And the usage mistake is start's own, as for `mdmtap start`.
    const bare = await runCli(['--no-db']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^mdmtap: nothing to intercept: pass --mdm-host/);
  });
});

describe('mdmtap start --insecure-upstream', () => {
  it('reaches a server whose certificate it cannot verify only with the flag', async () => {
    const upstream = await startUpstream((_s, res) => res.end());
    try {
      const exchange = async (...flags: string[]) => {
        const p = startCli(['start', '--json', '--no-db', '--host', '127.0.0.1', '--port', '0', '--upstream', `https://127.0.0.1:${upstream.port}/mdm`, '--certs', lab.certs, ...flags]);
        const port = await listeningPort(p);
        const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
          const c = tls.connect({ host: '127.0.0.1', port, ca: lab.caPem }, () => resolve(c));
          c.on('error', reject);
        });
        const r = await requestOver(s, { body: idle() });
        s.destroy();
        await p.waitStdout(/"type":"exchange"/);
        await stopped(p);
        return { status: r.status, events: jsonLines(p.stdout()), stderr: p.stderr() };
      };
      const verified = await exchange();
      expect(verified.status).toBe(502);
      expect(verified.events.filter((e) => e.type === 'error').map((e) => e.kind)).toContain('tls');
      expect(upstream.seen).toHaveLength(0);
      const insecure = await exchange('--insecure-upstream');
      expect(insecure.status).toBe(200);
      expect(upstream.seen).toHaveLength(1);
      expect(insecure.stderr).toContain('WARNING: --insecure-upstream: the upstream server certificate is NOT verified.');
    } finally {
      await upstream.close();
    }
  });
});
