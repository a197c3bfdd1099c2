/**
 * Before any interoperability test: the NanoMDM binary must be there and run. Checked once, so its absence is one
 * clear message instead of a failure per test.
 */
import { execFileSync } from 'node:child_process';
import { nanomdmBinary } from './helpers/nanomdm-binary.js';

export default function setup(): void {
  const bin = nanomdmBinary();
  let version: string;
  try {
    version = execFileSync(bin, ['-version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch (e) {
    throw new Error(`NanoMDM at ${bin} does not run (${(e as Error).message.split('\n')[0]}); the interoperability suite needs a linux/amd64 NanoMDM binary`);
  }
  process.stderr.write(`interoperability suite: NanoMDM ${version} (${bin})\n`);
}
