/**
 * What the proxy serves to a browser on the device, over plain HTTP: the CA as PEM and as a configuration
 * profile (a com.apple.security.root payload), which is how iOS and macOS install a root certificate.
 */
import type http from 'node:http';
import { createHash } from 'node:crypto';
import * as plist from 'plist';
import type { CertificateAuthority } from './ca.js';

export function mobileconfig(ca: CertificateAuthority): Buffer {
  const uuid = (salt: string) => {
    const h = createHash('sha256').update(salt + ca.fingerprint256).digest('hex').toUpperCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  };
  return Buffer.from(
    plist.build({
      PayloadContent: [
        {
          PayloadCertificateFileName: 'mdmtap-ca.cer',
          PayloadContent: new Uint8Array(ca.der),
          PayloadDescription: 'Lets mdmtap decrypt MDM traffic for debugging',
          PayloadDisplayName: 'mdmtap CA',
          PayloadIdentifier: `dev.mdmtap.ca.${uuid('payload')}`,
          PayloadType: 'com.apple.security.root',
          PayloadUUID: uuid('payload'),
          PayloadVersion: 1,
        },
      ],
      PayloadDescription: `Installs the mdmtap certificate authority (SHA-256 ${ca.fingerprint256}). Remove it when you stop debugging.`,
      PayloadDisplayName: 'mdmtap CA',
      PayloadIdentifier: `dev.mdmtap.profile.${uuid('profile')}`,
      PayloadRemovalDisallowed: false,
      PayloadType: 'Configuration',
      PayloadUUID: uuid('profile'),
      PayloadVersion: 1,
    }),
  );
}

export function serveCa(req: http.IncomingMessage, res: http.ServerResponse, ca: CertificateAuthority): void {
  const path = (req.url ?? '/').split('?')[0];
  const send = (status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'GET only\n');
  if (path === '/ca.pem') {
    return send(200, 'application/x-pem-file', ca.certPem, { 'content-disposition': 'attachment; filename="mdmtap-ca.pem"' });
  }
  if (path === '/ca.mobileconfig') {
    return send(200, 'application/x-apple-aspen-config', mobileconfig(ca), { 'content-disposition': 'attachment; filename="mdmtap-ca.mobileconfig"' });
  }
  if (path === '/') {
    return send(
      200,
      'text/plain; charset=utf-8',
      [
        'mdmtap — Apple MDM debugging proxy',
        '',
        `CA SHA-256 fingerprint: ${ca.fingerprint256}`,
        '  /ca.mobileconfig  install on iOS / macOS (then on iOS: Settings > General > About >',
        '                    Certificate Trust Settings > enable full trust for "mdmtap CA")',
        '  /ca.pem           the certificate as PEM',
        '',
      ].join('\n'),
    );
  }
  send(404, 'text/plain; charset=utf-8', 'not found: try /ca.mobileconfig or /ca.pem\n');
}
