/**
 * The floor of any decrypting proxy built on Node: CONNECT, TLS terminated with a leaf from its own CA, one TLS
 * connection to the server per device connection, and the decrypted bytes passed across both ways as they come —
 * no HTTP parsing, no copy, no analysis. mdmtap does this and HTTP on both sides and everything else; the bench
 * measures both under the same load, so what mdmtap adds is the difference.
 *
 * argv: CA folder, upstream CA file, upstream port. Prints its port on stdout.
 */
import http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { ensureCa } from '../src/proxy/ca.js';

const [dir, upstreamCaFile, upstreamPort] = process.argv.slice(2);
if (!dir || !upstreamCaFile || !upstreamPort) throw new Error('usage: relay-floor-main CA_DIR UPSTREAM_CA UPSTREAM_PORT');
const ca = await ensureCa(dir, { commonName: 'mdmtap bench relay-floor CA' });
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
  device.on('data', (c: Buffer) => upstream.write(c));
  upstream.on('data', (c: Buffer) => device.write(c));
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
