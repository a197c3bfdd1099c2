/**
 * mdmtap's certs folder (its CA, leaf key and leaves) made once per test file and copied into each lab:
 * creating it costs mdmtap two RSA keys at every start. Each lab gets its own copy, so nothing is shared
 * between running mdmtaps.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa } from '../../../src/proxy/ca.js';

let template: string | undefined;

export function copyMdmtapCerts(to: string): void {
  if (!template) {
    const dir = mkdtempSync(join(tmpdir(), 'mdmtap-interop-certs-'));
    const ca = ensureCa(dir, { commonName: `mdmtap interop ${dir.slice(-6)}` });
    // The leaves mdmtap would otherwise issue on the first connection of each kind.
    ca.leafFor('127.0.0.1');
    ca.leafFor('api.push.apple.com');
    template = dir;
  }
  cpSync(template, to, { recursive: true });
}

/** Removes the template (after a test file's last lab). */
export function removeMdmtapCertsTemplate(): void {
  if (template) rmSync(template, { recursive: true, force: true });
  template = undefined;
}
