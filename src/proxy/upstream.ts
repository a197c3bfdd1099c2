/**
 * Connections to the real MDM server: keep-alive agents, system CAs plus `--upstream-ca`, verification on unless
 * `--insecure-upstream` says otherwise.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

export interface UpstreamTrust {
  extraCa: string[];
  insecure: boolean;
}

export function agents(trust: UpstreamTrust): { http: http.Agent; https: https.Agent } {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets: 256 }),
    https: new https.Agent({
      keepAlive: true,
      maxSockets: 256,
      // Extra CAs are added to the system's, never replace them. Built once as a SecureContext: passed as `ca`,
      // the ~150 system roots would be parsed again for every connection and joined into the agent's pool key
      // for every request (measured: a quarter of the proxy's CPU under load).
      ...(trust.extraCa.length ? { secureContext: tls.createSecureContext({ ca: [...tls.rootCertificates, ...trust.extraCa] }) } : {}),
      rejectUnauthorized: !trust.insecure,
    }),
  };
}

const TLS_CODES = /^(ERR_TLS|ERR_SSL|UNABLE_TO_|CERT_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH|ERR_OSSL)/;

/** Why the upstream failed, in Exchange terms. */
export function upstreamErrorKind(e: NodeJS.ErrnoException): 'tls' | 'upstream-unreachable' | 'connection-reset' | 'timeout' {
  const code = e.code ?? '';
  if (TLS_CODES.test(code) || /certificate|self.signed|SSL/i.test(e.message)) return 'tls';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection-reset';
  return 'upstream-unreachable';
}
