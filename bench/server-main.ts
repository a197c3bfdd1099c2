/**
 * The benchmark's MDM server, run as its own process so it does not share an event loop with the proxy or the
 * load: Idle → a command, NotNow → another command (a server that keeps going), Acknowledged → the empty reply.
 * Prints its port on stdout; the CA it trusts is written to the folder given as argv[2].
 */
import https from 'node:https';
import type net from 'node:net';
import { ensureCa } from '../src/proxy/ca.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: server-main DIR');
const ca = await ensureCa(dir, { commonName: 'mdmtap bench server CA' });
const leaf = await ca.issue('127.0.0.1');
const command = (uuid: string, rt: string) =>
  Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>Command</key><dict><key>RequestType</key><string>${rt}</string></dict><key>CommandUUID</key><string>${uuid}</string></dict></plist>\n`,
  );
const first = command('0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55', 'InstallProfile');
const second = command('1A2B3C4D-7C1D-4E35-9A7B-3C0E2D1F4A56', 'InstalledApplicationList');

const server = https.createServer({ cert: leaf.cert, key: leaf.key, keepAlive: true }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    // A cheap look at the status: the body's bytes are what a real server would parse properly.
    const head = Buffer.concat(chunks).subarray(0, 400).toString('latin1');
    const reply = head.includes('<string>Idle</string>') ? first : head.includes('<string>NotNow</string>') ? second : undefined;
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': reply ? reply.length : 0 });
    res.end(reply);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
