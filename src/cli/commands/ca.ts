/** `mdmtap ca`: create the CA if needed and say where it is and how to trust it. */
import type { Command } from 'commander';
import { resolve, join } from 'node:path';
import { ensureCa, type CaKeyType } from '../../proxy/ca.js';
import { caKeyTypeOption } from '../options.js';
import { DEFAULT_CERTS } from '../defaults.js';
import { UserError } from '../errors.js';
import { fileProblem } from '../../util/file-errors.js';

export function registerCa(program: Command): void {
  program
    .command('ca')
    .description('create (first time) and show the mdmtap CA: its files and SHA-256 fingerprint')
    .option('--certs <dir>', 'where the mdmtap CA lives', DEFAULT_CERTS)
    .option('--pem', 'print the CA certificate (PEM) only')
    .option('--ca-key-type <type>', 'key of a CA created now: p256 (ECDSA) or rsa (2048); an existing CA keeps its own', caKeyTypeOption, 'p256')
    .action(async (opts: { certs: string; pem?: boolean; caKeyType: CaKeyType }) => {
      const dir = resolve(opts.certs);
      let ca;
      try {
        ca = await ensureCa(dir, { keyType: opts.caKeyType });
      } catch (e) {
        throw new UserError(`cannot create or read the CA in ${dir}: ${fileProblem(e)}`);
      }
      if (opts.pem) {
        process.stdout.write(ca.certPem);
        return;
      }
      process.stdout.write(
        [
          `certificate  ${join(dir, 'ca.pem')} (${ca.keyType === 'rsa' ? 'RSA' : 'ECDSA'} key)`,
          `private key  ${join(dir, 'ca.key')} (mode 0600: keep it on this machine)`,
          `SHA-256      ${ca.fingerprint256}`,
          '',
          'Install on a device: browse to http://<mdmtap-host>:<port>/ca.mobileconfig while mdmtap runs, install the',
          'profile, then on iOS enable Settings > General > About > Certificate Trust Settings > "mdmtap CA".',
          ...(ca.tightened ? ['', 'note: the key file was readable by others; its mode is now 0600'] : []),
          '',
        ].join('\n'),
      );
    });
}
