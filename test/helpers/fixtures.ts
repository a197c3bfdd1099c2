/** The real device messages under test/fixtures (copied from MIT-licensed projects; LICENSE beside each). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as plist from 'plist';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function fixtureFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(xml|plist)$/.test(name)) out.push(relative(FIXTURES, p));
    }
  };
  walk(FIXTURES);
  return out;
}

export function fixture(rel: string): Buffer {
  return readFileSync(join(FIXTURES, rel));
}

/**
 * plist.parse, except where plist rejects base64 that Apple devices really send (e.g. `AAAA=` in a commandment
 * fixture): there the oracle is plist.parse of the same document with each <data> re-encoded canonically, since
 * our decoder is lenient about base64 on purpose.
 */
export function plistOracle(xml: string): plist.PlistValue {
  try {
    return plist.parse(xml);
  } catch (e) {
    if ((e as Error).name !== 'InvalidCharacterError') throw e;
    return plist.parse(
      xml.replace(/<data>([^<]*)<\/data>/g, (_m, b64: string) => `<data>${Buffer.from(b64, 'base64').toString('base64')}</data>`),
    );
  }
}
