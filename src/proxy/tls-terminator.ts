/**
 * TLS with a device, terminated by mdmtap with a leaf from its CA. The connection's own name (the CONNECT target,
 * or the address a device reached mdmtap on) always has a leaf; a different name in the ClientHello gets one only
 * if mdmtap decrypts that name, and otherwise the device is offered the connection's own certificate — which it
 * will refuse, so a `tls` event says why. Leaves come from LeafContexts (issued off the event loop), so the socket
 * is wrapped once the context is ready; the device's ClientHello waits in the socket meanwhile.
 */
import tls from 'node:tls';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { DecryptedNames } from './decrypted-names.js';
import type { LeafContexts } from './leaf-contexts.js';
import type { ProxyError } from './errors.js';

export interface TlsTerminatorOptions {
  leaves: LeafContexts;
  names: DecryptedNames;
  /** Ask devices for their client certificate (`--client-cert-header`). */
  requestCert: boolean;
  /** Reverse mode: an unknown name may be one devices really use, which --server-name would add. */
  reverse: boolean;
  who(socket: Duplex): string;
  onError(e: ProxyError): void;
  /** The handshake completed: the TLS socket is ready for HTTP. */
  onSecure(tlsSocket: tls.TLSSocket): void;
  /** The TLS socket exists (before its handshake), on top of `socket`. */
  onWrap(tlsSocket: tls.TLSSocket, socket: Duplex): void;
}

/** Returns `terminate(socket, name, stopClock)`; `stopClock` cancels the handshake deadline once secure. */
export function tlsTerminator(o: TlsTerminatorOptions): (socket: Duplex, name: string, stopClock: () => void) => void {
  return (socket, name, stopClock) => {
    o.leaves.get(name).then(
      (secureContext) => {
        if (socket.destroyed) return;
        const tlsSocket = new tls.TLSSocket(socket as net.Socket, {
          isServer: true,
          secureContext,
          SNICallback: (servername, cb) => {
            if (!servername || servername.toLowerCase() === name) return cb(null, secureContext);
            if (!o.names.has(servername)) {
              const hint = o.reverse ? ` (if devices reach mdmtap by that name, add --server-name ${servername})` : '';
              o.onError({ kind: 'tls', message: `${o.who(socket)} asked for ${servername}, a name mdmtap does not decrypt: it was offered the certificate of ${name}${hint}` });
              return cb(null, secureContext);
            }
            o.leaves.get(servername).then((c) => cb(null, c), (e: Error) => cb(e));
          },
          requestCert: o.requestCert,
          rejectUnauthorized: false,
          ALPNProtocols: ['http/1.1'],
        });
        o.onWrap(tlsSocket, socket);
        let secure = false;
        tlsSocket.on('error', (e: Error) => {
          // After the handshake an error is the device going away, which the exchange (if any) records.
          if (!secure) o.onError({ kind: 'tls', message: `TLS with ${o.who(socket)} failed (${name}): ${e.message}` });
          tlsSocket.destroy();
        });
        tlsSocket.once('secure', () => {
          secure = true;
          stopClock();
          o.onSecure(tlsSocket);
        });
      },
      (e: Error) => {
        o.onError({ kind: 'internal', message: `no certificate for ${name}: ${e.message}` });
        socket.destroy();
      },
    );
  };
}
