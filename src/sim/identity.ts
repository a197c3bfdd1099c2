/**
 * Throwaway TLS identities for the simulator's servers (reference MDM server, simulated APNs) and the push
 * certificate: a CA of their own that lives in memory only.
 */
import { createCa, type CertificateAuthority } from '../proxy/ca.js';

export interface SimIdentity {
  ca: CertificateAuthority;
  /** Server certificate + key for 127.0.0.1 and localhost. */
  server: { cert: string; key: string };
}

let seq = 0;

export async function simIdentity(name: string): Promise<SimIdentity> {
  // A distinct name per CA: TLS picks an issuer by subject, and several simulated servers may be trusted at once.
  const ca = await createCa({ commonName: `mdmtap simulator ${name} ${process.pid}-${++seq}` });
  const { cert, key } = await ca.issue(['127.0.0.1', 'localhost']);
  return { ca, server: { cert, key } };
}
