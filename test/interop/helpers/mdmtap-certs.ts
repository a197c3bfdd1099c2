/**
 * mdmtap's certs folder (its CA) made once per test file and copied into each lab, so every lab's mdmtap starts
 * without making a CA key. Each lab gets its own copy: nothing is shared between running mdmtaps.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa } from '../../../src/proxy/ca.js';

let template: Promise<string> | undefined;

export async function copyMdmtapCerts(to: string): Promise<void> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdmtap-interop-certs-'));
    await ensureCa(dir, { commonName: `mdmtap interop ${dir.slice(-6)}` });
    return dir;
  })();
  cpSync(await template, to, { recursive: true });
}

/** Removes the template (after a test file's last lab). */
export async function removeMdmtapCertsTemplate(): Promise<void> {
  if (template) rmSync(await template, { recursive: true, force: true });
  template = undefined;
}
