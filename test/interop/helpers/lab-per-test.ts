/**
 * Labs scoped to one test: each is closed after the test whatever happened (processes stopped, temporary folders
 * removed; the file's mdmtap certs template after its last test), and when the test fails its NanoMDM log and mdmtap events are printed, since they are what explains it.
 */
import { afterAll, afterEach, onTestFailed } from 'vitest';
import { startLab, type Lab, type LabOptions } from './lab.js';
import { removeMdmtapCertsTemplate } from './mdmtap-certs.js';

const TAIL = 80;

export function labPerTest(): (opts: LabOptions) => Promise<Lab> {
  const open: Lab[] = [];
  afterEach(async () => {
    for (const lab of open.splice(0)) await lab.close();
  });
  afterAll(removeMdmtapCertsTemplate);
  return async (opts) => {
    const lab = await startLab(opts);
    open.push(lab);
    onTestFailed(() => {
      const tail = (s: string) => s.trimEnd().split('\n').slice(-TAIL).join('\n');
      process.stderr.write(
        `\n--- NanoMDM log (last ${TAIL} lines):\n${tail(lab.nanomdm.log())}\n` +
          `--- mdmtap events:\n${lab.mdmtap.events().map((e) => JSON.stringify(e)).join('\n')}\n` +
          `--- mdmtap stderr:\n${tail(lab.mdmtap.stderr())}\n`,
      );
    });
    return lab;
  };
}
