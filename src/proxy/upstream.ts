/**
 * Connections to the real MDM server: keep-alive agents, system CAs plus `--upstream-ca`, verification on unless
 * `--insecure-upstream` says otherwise.
 *
 * The agents are never the bottleneck: a device connection carries one exchange at a time, so allowing as many
 * upstream sockets as device connections (`--max-connections`) means a device never queues behind others' stalled
 * uploads. Each upstream socket has an inactivity timeout (`--upstream-timeout`), so a server that stops answering
 * (or a device that stops reading its answer) frees its socket.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

export interface UpstreamOptions {
  extraCa: string[];
  insecure: boolean;
  /** At least the number of device connections served. */
  maxSockets: number;
  /** Inactivity (ms) after which an upstream socket is given up. */
  timeoutMs: number;
}

export function agents(o: UpstreamOptions): { http: http.Agent; https: https.Agent } {
  const common = { keepAlive: true, maxSockets: o.maxSockets, timeout: o.timeoutMs };
  return {
    http: new http.Agent(common),
    https: new https.Agent({
      ...common,
      // Extra CAs are added to the system's, never replace them. Built once as a SecureContext: passed as `ca`,
      // the ~150 system roots would be parsed again for every connection and joined into the agent's pool key
      // for every request (measured: a quarter of the proxy's CPU under load).
      ...(o.extraCa.length ? { secureContext: tls.createSecureContext({ ca: [...tls.rootCertificates, ...o.extraCa] }) } : {}),
      rejectUnauthorized: !o.insecure,
    }),
  };
}

const TLS_CODES = /^(ERR_TLS|ERR_SSL|UNABLE_TO_|CERT_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH|ERR_OSSL)/;

export type UpstreamErrorKind = 'tls' | 'upstream-unreachable' | 'bad-upstream-response' | 'connection-reset' | 'timeout';

/** Why the upstream failed, in Exchange terms. */
export function upstreamErrorKind(e: NodeJS.ErrnoException): UpstreamErrorKind {
  const code = e.code ?? '';
  if (TLS_CODES.test(code) || /certificate|self.signed|SSL/i.test(e.message)) return 'tls';
  // llhttp's parse errors: the server answered, but not with HTTP mdmtap (or the device) could read.
  if (code.startsWith('HPE_')) return 'bad-upstream-response';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection-reset';
  return 'upstream-unreachable';
}

/** What the device is told in the 502's body, per kind. */
export function upstreamFailureText(kind: UpstreamErrorKind, authority: string, e: NodeJS.ErrnoException): string {
  const why = e.code ?? e.message;
  switch (kind) {
    case 'bad-upstream-response':
      return `mdmtap: the MDM server ${authority} sent a response that is not valid HTTP (${why})\n`;
    case 'tls':
      return `mdmtap: TLS with the MDM server ${authority} failed (${why})\n`;
    case 'timeout':
      return `mdmtap: the MDM server ${authority} did not answer in time\n`;
    case 'connection-reset':
      return `mdmtap: the MDM server ${authority} closed the connection (${why})\n`;
    default:
      return `mdmtap: the MDM server ${authority} could not be reached (${why})\n`;
  }
}
