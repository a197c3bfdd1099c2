/**
 * What the bench's measuring relays share (relay-floor-main.ts, framing-floor-main.ts): a forward proxy that
 * answers each CONNECT, terminates TLS with a leaf from its own CA, opens one TLS connection to the server per
 * device connection, and lets the script decide what happens to the decrypted bytes. Prints its port on stdout.
 *
 * argv: CA folder, upstream CA file, upstream port.
 */
import http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { ensureCa } from '../src/proxy/ca.js';

export async function measuringRelay(name: string, wire: (device: tls.TLSSocket, upstream: tls.TLSSocket) => void): Promise<void> {
  const [dir, upstreamCaFile, upstreamPort] = process.argv.slice(2);
  if (!dir || !upstreamCaFile || !upstreamPort) throw new Error(`usage: ${name} CA_DIR UPSTREAM_CA UPSTREAM_PORT`);
  const ca = await ensureCa(dir, { commonName: `mdmtap bench ${name} CA` });
  const leaf = await ca.issue('127.0.0.1');
  const secureContext = tls.createSecureContext({ cert: leaf.cert, key: leaf.key });
  const upstreamCa = readFileSync(upstreamCaFile, 'utf8');

  const server = http.createServer();
  server.on('connect', (_req: http.IncomingMessage, socket: net.Socket) => {
    socket.setNoDelay(true);
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const device = new tls.TLSSocket(socket, { isServer: true, secureContext });
    const upstream = tls.connect({ host: '127.0.0.1', port: Number(upstreamPort), ca: upstreamCa });
    upstream.setNoDelay(true);
    wire(device, upstream);
    const close = () => {
      device.destroy();
      upstream.destroy();
    };
    for (const s of [device, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}
