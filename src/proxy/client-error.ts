/**
 * What a proxy's HTTP servers do when Node's parser gives up on a device's connection: a request that does not
 * parse gets a 400 (431 for oversized headers) and a `malformed-request` event; one that took too long (Node's
 * header and request clocks) a 408 and a `timeout` event, and its exchange, if one was forwarded, is recorded as a
 * timeout. An answer is written only when no response of the proxy's has begun on that connection. The connection
 * is then closed without an error, which a TLS socket would otherwise report again as a TLS failure.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyError } from './errors.js';
import type { Timeouts } from './timeouts.js';

/** The device went away: reset, or closed its side in the middle of a request (llhttp's "invalid EOF state"). */
const GONE: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'HPE_INVALID_EOF_STATE']);

export function clientErrorHandler(o: {
  timeouts: Timeouts;
  /** Connections Node's parser gave up on, and why: their exchange fails as that, not as `client-aborted`. */
  cutOff: WeakMap<object, 'timeout' | 'malformed-request'>;
  who(socket: Duplex): string;
  onError(e: ProxyError): void;
}): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    const response = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
    const canAnswer = socket.writable && (!response || !response.headersSent);
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      o.cutOff.set(socket, 'timeout');
      o.onError({ kind: 'timeout', message: `${o.who(socket)} did not send a complete request in time (headers within ${o.timeouts.headersMs} ms, the whole request within ${o.timeouts.requestMs} ms)` });
      if (canAnswer) socket.write('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    } else if (!GONE.has(err.code ?? '') && socket.writable) {
      // A device that went away is no fault; anything else Node's parser refused is the device's malformed input.
      o.cutOff.set(socket, 'malformed-request');
      o.onError({ kind: 'malformed-request', message: `from ${o.who(socket)}: ${err.message}${err.code ? ` (${err.code})` : ''}` });
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (canAnswer) socket.write(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    }
    socket.destroy();
  };
}
