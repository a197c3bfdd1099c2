/**
 * A keep-alive HTTPS agent that reaches its server through an HTTP proxy by CONNECT, the way a device with a
 * proxy configured does (forward mode). Without a proxy it is a plain keep-alive agent.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

export interface Transport {
  /** Extra CAs the device trusts (the server's, and mdmtap's when it intercepts). */
  ca: string[];
  proxy?: { host: string; port: number };
}

export function deviceAgent(t: Transport): https.Agent {
  if (!t.proxy) return new https.Agent({ keepAlive: true, maxSockets: 1, ca: t.ca });
  return new ConnectAgent(t.proxy, t.ca);
}

class ConnectAgent extends https.Agent {
  constructor(
    private readonly proxy: { host: string; port: number },
    ca: string[],
  ) {
    super({ keepAlive: true, maxSockets: 1, ca });
  }

  override createConnection(options: https.RequestOptions, cb?: (err: Error | null, s: Duplex) => void): Duplex | null | undefined {
    const target = `${options.host}:${options.port}`;
    const req = http.request({ host: this.proxy.host, port: this.proxy.port, method: 'CONNECT', path: target, headers: { host: target } });
    req.on('connect', (res, raw) => {
      if (res.statusCode !== 200) {
        raw.destroy();
        return cb?.(new Error(`proxy refused CONNECT ${target}: ${res.statusCode}`), raw);
      }
      const host = options.host ?? 'localhost';
      const s = tls.connect({ ...(options as tls.ConnectionOptions), socket: raw, host, servername: net.isIP(host) ? undefined : host });
      s.once('secureConnect', () => cb?.(null, s));
      s.once('error', (e) => cb?.(e, s));
    });
    req.on('error', (e) => cb?.(e, req.socket as Duplex));
    req.end();
    return undefined;
  }
}
