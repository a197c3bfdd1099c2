/**
 * Where the real NanoMDM server binary is: `NANOMDM_BIN`, else `../shared/nanomdm/nanomdm` beside the repository
 * (where CI keeps it). The suite exists to run against it, so its absence is a failure that says what to do.
 */
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function nanomdmBinary(): string {
  const given = process.env.NANOMDM_BIN;
  const path = resolve(REPO_ROOT, given && given.trim() !== '' ? given : '../shared/nanomdm/nanomdm');
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `NanoMDM not found at ${path}${given ? ' (from NANOMDM_BIN)' : ''}. The interoperability suite runs against the real ` +
        'NanoMDM server (github.com/micromdm/nanomdm, a static binary): set NANOMDM_BIN to its path, relative to the ' +
        'repository root or absolute, or put it at ../shared/nanomdm/nanomdm. `npm test` does not need it.',
    );
  }
  return path;
}
