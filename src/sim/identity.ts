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
  const ca = ensureCa(dir);
  return { ca, server: ca.leafFor('127.0.0.1'), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
