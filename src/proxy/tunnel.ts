/**
 * A CONNECT mdmtap does not decrypt (forward mode): raw bytes both ways, untouched. Connecting is bounded by the
 * upstream timeout; once connected, a tunnel with no byte either way for `idleMs` (--tunnel-timeout) is closed, so
 * that a peer that vanished or a client that parks tunnels does not hold them for ever. The default is long
 * (10 min, as mitmproxy's inactivity watchdog), because what runs inside may rightly be quiet for a while (a push
 * connection between its keep-alives); a tunnel also counts towards --max-connections like any connection.
 * `serverAt` names the MDM server an address reaches: a tunnel to it is refused once connected (server-aliases.ts).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ProxyError } from './errors.js';
import { deadline } from './timeouts.js';

/**
 * How long a client has to close after mdmtap's own answer on a CONNECT's socket. Such a socket has left the HTTP
 * server, so no server clock watches it: ended without this, a client that never closes its side holds it for ever.
 */
const LINGER_MS = 2_000;

/** Writes `text` raw on a socket that no HTTP server answers for any more (a CONNECT's), and closes it. */
export function answerRaw(socket: Duplex, text: string): void {
  socket.end(text);
  deadline(socket, LINGER_MS, () => undefined);
}

export function tunnel(
  client: Duplex,
  host: string,
  port: number,
  limits: { connectMs: number; idleMs: number },
  onError: (e: ProxyError) => void,
  serverAt?: (address: string, port: number) => Promise<string | undefined>,
): void {
  const server = net.connect({ host, port, noDelay: true });
  let connected = false;
  let refused = false;
  server.setTimeout(limits.connectMs, () => server.destroy(Object.assign(new Error(`no connection within ${limits.connectMs} ms`), { code: 'ETIMEDOUT' })));
  server.on('connect', async () => {
    connected = true;
    // A socket's clock restarts on every read and every write, so this is silence both ways. Closed quietly, as an
    // idle kept-alive connection is: nothing went wrong.
    server.setTimeout(limits.idleMs, () => server.destroy());
    // The address really reached, not the name asked for: no spelling or second resolution gets round it.
    const mdm = serverAt ? await serverAt(server.remoteAddress ?? '', server.remotePort ?? port).catch(() => undefined) : undefined;
    if (client.destroyed || server.destroyed) return void server.destroy();
    if (mdm) {
      refused = true;
      server.destroy();
      onError({ kind: 'proxy-refused', message: `CONNECT ${host}:${port} reaches the MDM server ${mdm} under another name: refused (mdmtap decrypts it as ${mdm} only)` });
      answerRaw(client, forbidden(`mdmtap: ${host}:${port} is the MDM server ${mdm}; connect to it as ${mdm}\n`));
      return;
    }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    server.pipe(client);
    client.pipe(server);
  });
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (!connected) answerRaw(client, e.code === 'ETIMEDOUT' ? 'HTTP/1.1 504 Gateway Timeout\r\n\r\n' : 'HTTP/1.1 502 Bad Gateway\r\n\r\n');
    else client.destroy();
    if (!connected) onError({ kind: e.code === 'ETIMEDOUT' ? 'timeout' : 'upstream-unreachable', message: `tunnel to ${host}:${port}: ${e.message}` });
  });
  client.on('close', () => server.destroy());
  // A refused tunnel's client is ended with its answer instead.
  server.on('close', () => refused || client.destroy());
}

/** A 403 with a text body, written raw on a socket that carries no HTTP server's response (CONNECT). */
export function forbidden(text: string): string {
  return `HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`;
}
