/**
 * Throwaway TLS identities for the simulator's servers (reference MDM server, simulated APNs) and the push
 * certificate: a CA of their own in a temporary folder, removed on close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, type CertificateAuthority } from '../proxy/ca.js';

export interface SimIdentity {
  ca: CertificateAuthority;
  /** Server certificate + key for 127.0.0.1 (and localhost). */
  server: { cert: string; key: string };
  dispose(): void;
}

export function simIdentity(name: string): SimIdentity {
  const dir = mkdtempSync(join(tmpdir(), `mdmtap-sim-${name}-`));
  // A distinct name per CA: TLS picks an issuer by subject, and several simulated servers may be trusted at once.
  const ca = ensureCa(dir, { commonName: `mdmtap simulator ${name} ${dir.slice(-6)}` });
  return { ca, server: ca.leafFor('127.0.0.1'), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
