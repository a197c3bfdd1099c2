/**
 * A real mdmtap child process under load and at its stop: every exchange a device received before SIGTERM is in
 * the SQLite capture and in the JSON output, an obligation still open at the stop is reported `pending` and
 * restored by the next start, an exception that escapes every guard becomes an error event instead of a death,
 * and nothing Node warns about reaches the terminal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { startCli, type Running } from '../helpers/cli.js';
import { connectTls, plainGet, requestOver, startUpstream, tempDir, type Upstream } from '../helpers/tls-peers.js';
import { idle } from '../helpers/mdm-bodies.js';
import { exchangeOver } from '../../src/sim/raw-exchange.js';
import { startReferenceServer } from '../../src/sim/server.js';
import { strandOneSession } from '../helpers/stranded.js';

const running: Running[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await r.exited;
  }
  for (const c of cleanups.splice(0).reverse()) await c();
});

function work(): string {
  const d = tempDir('mdmtap-stop-');
  cleanups.push(() => d.remove());
  return d.dir;
}

async function upstreamWithCa(dir: string): Promise<{ upstream: Upstream; caFile: string }> {
  // The server ends every session at once: each request is one whole MDM session.
  const upstream = await startUpstream((_s, res) => res.end());
  cleanups.push(() => upstream.close());
  const caFile = join(dir, 'server-ca.pem');
  writeFileSync(caFile, upstream.ca.certPem);
  return { upstream, caFile };
}

describe('a clean stop under load', () => {
  it('loses nothing: every exchange devices received is a row in the capture and a line in the JSON output', async () => {
    const dir = work();
    const { upstream, caFile } = await upstreamWithCa(dir);
    const target = `127.0.0.1:${upstream.port}`;
    for (let round = 0; round < 4; round++) {
      const db = join(dir, `capture-${round}.sqlite`);
      const p = startCli(['start', '--json', '--host', '127.0.0.1', '--port', '0', '--mdm-host', target, '--upstream-ca', caFile, '--certs', join(dir, 'certs'), '--db', db]);
      running.push(p);
      const port = Number((await p.waitStderr(/listening on 127\.0\.0\.1:(\d+)/))[1]);
      const ca = readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8');
      const received: string[] = [];
      let stopping = false;
      // Eight devices send exchanges back to back on kept-alive connections until mdmtap turns them away.
      const device = async (d: number) => {
        let s: tls.TLSSocket | undefined;
        for (let i = 0; i < 2000; i++) {
          try {
            s ??= await connectTls(port, target, ca);
            const path = `/mdm?round=${round}&d=${d}&i=${i}`;
            const status = await exchangeOver(s, path, idle());
            if (status === 200) received.push(path);
            else return;
          } catch {
            return;
          }
          if (stopping && i % 7 === 0) s = undefined;
        }
      };
      const load = Promise.all(Array.from({ length: 8 }, (_, d) => device(d)));
      // Stop somewhere in the middle of the traffic (after a varying number of exchanges).
      while (received.length < 40 + round * 25) await new Promise((r) => setTimeout(r, 5));
      stopping = true;
      p.child.kill(round % 2 ? 'SIGINT' : 'SIGTERM');
      await load;
      expect(await p.exited).toBe(0);
      running.pop();
      const rows = new Database(db, { readonly: true });
      const stored = new Set((rows.prepare('SELECT path FROM exchanges').all() as Array<{ path: string }>).map((r) => r.path));
      rows.close();
      const missing = received.filter((path) => !stored.has(path));
      expect(missing, `round ${round}: ${received.length} received`).toEqual([]);
      const lines = p.stdout().trim().split('\n').map((l) => JSON.parse(l) as { type: string });
      expect(lines.filter((e) => e.type === 'exchange').length).toBeGreaterThanOrEqual(received.length);
    }
  }, 120_000);

  it('reports an obligation still open at the stop as pending, and the next start restores it', async () => {
    const dir = work();
    const server = await startReferenceServer({ policy: 'keep-going' });
    cleanups.push(() => server.close());
    const caFile = join(dir, 'server-ca.pem');
    writeFileSync(caFile, server.ca);
    const db = join(dir, 'capture.sqlite');
    const args = ['start', '--json', '--host', '127.0.0.1', '--port', '0', '--mdm-host', `127.0.0.1:${server.port}`, '--upstream-ca', caFile, '--certs', join(dir, 'certs'), '--db', db, '--push-grace', '1h'];
    const first = startCli(args);
    running.push(first);
    const port = Number((await first.waitStderr(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const device = await strandOneSession(server, port, join(dir, 'certs'), 9);
    const open = JSON.parse((await first.waitStdout(/\{"type":"obligation"[^\n]*"event":"open"[^\n]*\n/))[0]);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    running.pop();
    const pending = first.stdout().trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'obligation' && e.event === 'pending');
    expect(pending).toMatchObject([{ sessionId: open.sessionId, deadline: open.deadline, udid: device.udid }]);

    const second = startCli(args);
    running.push(second);
    await second.waitStderr(/restored from the capture: 1 push tokens, 1 open push obligations/);
  }, 60_000);
});

describe('the last resort and the terminal', () => {
  it('turns an exception that escaped every guard into an error event and keeps serving', async () => {
    const dir = work();
    const hook = fileURLToPath(new URL('../helpers/escape-on-signal.mjs', import.meta.url));
    const p = startCli(['start', '--json', '--no-db', '--host', '127.0.0.1', '--port', '0', '--upstream', 'https://127.0.0.1:1', '--certs', join(dir, 'certs')], {
      env: { NODE_OPTIONS: `--import ${hook}` },
    });
    running.push(p);
    const port = Number((await p.waitStderr(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    p.child.kill('SIGUSR2');
    await p.waitStdout(/"kind":"uncaught"[^\n]*escaped on purpose/);
    await p.waitStdout(/"kind":"uncaught"[^\n]*rejected on purpose/);
    expect((await plainGet(port, '/ca.pem')).status).toBe(200);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    running.pop();
  });

  it('prints no Node warning, with an upstream given by IP address', async () => {
    const dir = work();
    const { upstream, caFile } = await upstreamWithCa(dir);
    const p = startCli(['start', '--json', '--no-db', '--host', '127.0.0.1', '--port', '0', '--upstream', `https://127.0.0.1:${upstream.port}/mdm`, '--upstream-ca', caFile, '--certs', join(dir, 'certs')]);
    running.push(p);
    const port = Number((await p.waitStderr(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const ca = readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8');
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, ca }, () => resolve(c));
      c.on('error', reject);
    });
    expect((await requestOver(s, { body: idle() })).status).toBe(200);
    s.destroy();
    expect(upstream.seen).toHaveLength(1);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    running.pop();
    expect(p.stderr()).not.toMatch(/Warning|DEP0/);
  });
});
