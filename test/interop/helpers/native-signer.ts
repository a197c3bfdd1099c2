/**
 * RSA keys for the suite's throwaway certificates, and signing done by node:crypto for node-forge. Forge builds
 * the X.509 and CMS structures; its own RSA in JavaScript costs ~100 ms per signature (every signed request)
 * and ~300 ms per key, so one key pair per process serves every certificate (as mdmtap's leaves share one key)
 * and the signature itself is computed natively.
 */
import { constants, createPrivateKey, generateKeyPairSync, privateEncrypt, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** DER prefix of a PKCS#1 DigestInfo for SHA-256; the 32-byte hash follows. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

export interface RsaKey {
  pem: string;
  publicKey: forge.pki.PublicKey;
  /** What forge's `cert.sign()` and PKCS#7 `addSigner()` take as the key: only `sign(md)` is called. */
  signer: forge.pki.rsa.PrivateKey;
}

let shared: RsaKey | undefined;

/** The process's one RSA key pair. */
export function sharedKey(): RsaKey {
  if (shared) return shared;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  shared = { pem, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), signer: nativeSigner(privateKey) };
  return shared;
}

/** RSASSA-PKCS1-v1_5 over a finished SHA-256 digest: the padded DigestInfo, encrypted with the private key. */
export function nativeSigner(key: KeyObject | string): forge.pki.rsa.PrivateKey {
  const k = typeof key === 'string' ? createPrivateKey(key) : key;
  const sign = (md: forge.md.MessageDigest): forge.Bytes => {
    if (md.algorithm !== 'sha256') throw new Error(`nativeSigner signs SHA-256 digests only, not ${md.algorithm}`);
    const digest = Buffer.from(md.digest().getBytes(), 'binary');
    return privateEncrypt({ key: k, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, digest])).toString('binary');
  };
  return { sign } as unknown as forge.pki.rsa.PrivateKey;
}
