/**
 * A CONNECT mdmtap does not decrypt (forward mode): raw bytes both ways, untouched. Connecting is bounded by the
 * upstream timeout; once connected a tunnel has no timeout of its own, because what runs inside may rightly be
 * quiet for long (a device's push connection), and it counts towards --max-connections like any connection.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ProxyError } from './errors.js';

export function tunnel(client: Duplex, host: string, port: number, connectTimeoutMs: number, onError: (e: ProxyError) => void): void {
  const server = net.connect({ host, port, noDelay: true });
  let connected = false;
  server.setTimeout(connectTimeoutMs, () => server.destroy(Object.assign(new Error(`no connection within ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
  server.on('connect', () => {
    connected = true;
    server.setTimeout(0);
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    server.pipe(client);
    client.pipe(server);
  });
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (!connected) client.end(e.code === 'ETIMEDOUT' ? 'HTTP/1.1 504 Gateway Timeout\r\n\r\n' : 'HTTP/1.1 502 Bad Gateway\r\n\r\n');
    else client.destroy();
    if (!connected) onError({ kind: e.code === 'ETIMEDOUT' ? 'timeout' : 'upstream-unreachable', message: `tunnel to ${host}:${port}: ${e.message}` });
  });
  client.on('close', () => server.destroy());
  server.on('close', () => client.destroy());
}
