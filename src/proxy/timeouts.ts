/**
 * How long a device may take at each step, so that idle, trickling and stalled connections are closed instead of
 * holding descriptors and memory forever:
 *
 * - handshake: from accepting the connection (or answering its CONNECT) to a completed TLS handshake; in reverse
 *   mode this includes the wait for the first byte;
 * - headers: from the first byte of a request to the end of its headers (a new connection's clock starts when it
 *   is ready for its first request, so a connection that never sends one is closed at this timeout too);
 * - request: from the first byte of a request to the last byte of its body;
 * - idle: a kept-alive connection with no new request this long after the last response;
 * - upstream: no byte to or from the server for this long (a server that stops answering, or a device that stops
 *   reading its answer and so holds the server's side still);
 * - tunnel: a CONNECT tunnelled untouched (forward mode), or an intercepted APNs connection (either side), with no
 *   byte either way for this long (tunnel.ts, push/interceptor.ts).
 *
 * The header, request and idle clocks are Node's own (`headersTimeout`, `requestTimeout`, `keepAliveTimeout`).
 * mdmtap's HTTP servers never listen — connections reach them by `emit('connection')` after mdmtap has sniffed,
 * filtered or decrypted them — and Node starts the check behind the first two only when a server emits
 * 'listening', so mdmtap emits it (startRequestClocks).
 */
import type http from 'node:http';

export interface Timeouts {
  handshakeMs: number;
  headersMs: number;
  requestMs: number;
  idleMs: number;
  upstreamMs: number;
  tunnelMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  handshakeMs: 10_000,
  headersMs: 30_000,
  requestMs: 300_000,
  idleMs: 60_000,
  upstreamMs: 60_000,
  tunnelMs: 600_000,
};

/** The http.Server options that carry the header, request and idle timeouts. */
export function serverTimeoutOptions(t: Timeouts): http.ServerOptions {
  return {
    // Node refuses a header timeout longer than the request timeout: the request's includes the headers anyway.
    headersTimeout: Math.min(t.headersMs, t.requestMs),
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.idleMs,
    // How often Node looks for expired requests: a fraction of the shortest timeout, so one fires close to its time.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(t.headersMs, t.requestMs) / 4))),
  };
}

/** Starts Node's request clocks on a server that gets its connections by `emit('connection')` (see above). */
export function startRequestClocks(server: http.Server): void {
  server.emit('listening');
}

/**
 * Destroys `socket` unless `cancel()` is called within `ms` (a TLS handshake that must complete). `onExpire` runs
 * first, to report it.
 */
export function deadline(socket: { destroy(): void; once(ev: 'close', fn: () => void): unknown }, ms: number, onExpire: () => void): () => void {
  const timer = setTimeout(() => {
    onExpire();
    socket.destroy();
  }, ms);
  const cancel = () => clearTimeout(timer);
  socket.once('close', cancel);
  return cancel;
}
