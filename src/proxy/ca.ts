/**
 * mdmtap's certificate authority: created once in the certs folder (or in memory, for the simulator), then used to
 * issue the TLS leaves of the names mdmtap decrypts. X.509 structures come from @peculiar/x509; every key
 * operation is Node's WebCrypto, whose signatures run natively on the thread pool — issuing a leaf costs the event
 * loop a few ASN.1 encodings, not a signature in JavaScript.
 *
 * Apple's trust rules for TLS server certificates (iOS 13 / macOS 10.15 and later), kept by every leaf: a SHA-2
 * signature, the name in subjectAltName (the CN is not trusted), extendedKeyUsage with serverAuth, and a validity
 * of at most 398 days (825 for roots added by users, 398 for all since September 2020; 397 keeps inside both).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type ImportAlg = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;

/** The key of a new CA: ECDSA P-256 by default (smaller, faster handshakes), RSA 2048 for old clients. */
export type CaKeyType = 'p256' | 'rsa';
export const CA_KEY_TYPES: readonly CaKeyType[] = ['p256', 'rsa'];

export interface IssuedCertificate {
  /** The leaf followed by the CA certificate (PEM), as a TLS server sends its chain. */
  cert: string;
  /** The leaf's private key (PKCS#8 PEM). */
  key: string;
  /** When the leaf expires (epoch ms). */
  notAfter: number;
}

export interface CertificateAuthority {
  certPem: string;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (what iOS and macOS show). */
  fingerprint256: string;
  der: Buffer;
  /** The CA key's algorithm (an existing CA keeps whatever it was created with). */
  keyType: 'ec' | 'rsa';
  /** The certs folder, or undefined for a CA that lives in memory only. */
  dir?: string;
  /**
   * A leaf for the names (DNS names or IP addresses), signed by the CA. Server authentication only, unless
   * `clientAuth` (the simulator's push certificate and device identities).
   */
  issue(names: string | string[], opts?: { clientAuth?: boolean }): Promise<IssuedCertificate>;
  /** Set when the key file had looser permissions than 0600 and was tightened. */
  tightened?: boolean;
}

const CA_YEARS = 10;
const DAY = 86_400_000;
/** ≤ 398 days in total, notBefore included (Apple's limit for TLS server certificates). */
export const LEAF_DAYS = 397;

/** The CA in `dir` (ca.pem + ca.key), created there on first use. The key file is kept at mode 0600. */
export async function ensureCa(dir: string, opts: { commonName?: string; keyType?: CaKeyType } = {}): Promise<CertificateAuthority> {
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca.key');
  let tightened = false;
  if (existsSync(certFile) && existsSync(keyFile)) {
    if ((statSync(keyFile).mode & 0o077) !== 0) {
      chmodSync(keyFile, 0o600);
      tightened = true;
    }
    const ca = await authority(readFileSync(certFile, 'utf8'), createPrivateKey(readFileSync(keyFile, 'utf8')), dir);
    return tightened ? { ...ca, tightened } : ca;
  }
  const { certPem, key } = await createRoot(opts.commonName ?? 'mdmtap CA', opts.keyType ?? 'p256');
  // The key is written before the certificate: a certificate without its key would be reused as a broken CA.
  // Into a file of its own, then renamed: a ca.key left behind with looser modes (or open elsewhere) never holds it.
  const fresh = `${keyFile}.${process.pid}.new`;
  rmSync(fresh, { force: true });
  writeFileSync(fresh, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  chmodSync(fresh, 0o600);
  renameSync(fresh, keyFile);
  writeFileSync(certFile, certPem, { mode: 0o644 });
  return authority(certPem, key, dir);
}

/** A throwaway CA that lives in memory only (the simulator's servers, tests). */
export async function createCa(opts: { commonName: string; keyType?: CaKeyType }): Promise<CertificateAuthority> {
  const { certPem, key } = await createRoot(opts.commonName, opts.keyType ?? 'p256');
  return authority(certPem, key, undefined);
}

/** How a CA key signs with WebCrypto: ECDSA with the curve's own hash, or RSA PKCS#1 v1.5 with SHA-256. */
function signingOf(key: KeyObject): { importAlg: ImportAlg; signAlg: webcrypto.Algorithm & { hash?: string } } {
  if (key.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { importAlg: alg, signAlg: alg };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const named = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (named) return { importAlg: { name: 'ECDSA', namedCurve: named }, signAlg: { name: 'ECDSA', hash: named === 'P-384' ? 'SHA-384' : 'SHA-256' } };
  }
  throw new Error(`the CA key is ${key.asymmetricKeyType ?? 'of an unknown type'}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}; mdmtap signs with RSA, P-256 or P-384 keys`);
}

async function createRoot(commonName: string, keyType: CaKeyType): Promise<{ certPem: string; key: KeyObject }> {
  const pair =
    keyType === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const { importAlg, signAlg } = signingOf(pair.privateKey);
  const signingKey = await importPrivate(pair.privateKey, importAlg);
  const publicKey = new x509.PublicKey(pair.publicKey.export({ type: 'spki', format: 'der' }));
  const notBefore = new Date(Date.now() - DAY);
  const name = new x509.Name([{ CN: [commonName] }, { O: ['mdmtap'] }]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name,
    issuer: name,
    notBefore,
    notAfter: new Date(notBefore.getTime() + CA_YEARS * 365 * DAY),
    publicKey,
    signingKey,
    signingAlgorithm: signAlg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', key: pair.privateKey };
}

async function authority(certPem: string, key: KeyObject, dir: string | undefined): Promise<CertificateAuthority> {
  const caCert = new x509.X509Certificate(certPem);
  const der = Buffer.from(caCert.rawData);
  const fingerprint256 = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
  const { importAlg, signAlg } = signingOf(key);
  const signingKey = await importPrivate(key, importAlg);
  // Worked out once, not per leaf: the key identifier leaves point back with, and the one leaf key (as mitmproxy
  // does: a fresh key pair per process, never written anywhere, so nothing but the CA key is kept on disk).
  const ski = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = ski
    ? new x509.AuthorityKeyIdentifierExtension(ski.keyId)
    : await x509.AuthorityKeyIdentifierExtension.create(await caCert.publicKey.export(importAlg, ['verify']));
  const leafPair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const leafPublic = new x509.PublicKey(leafPair.publicKey.export({ type: 'spki', format: 'der' }));
  const leafKeyPem = leafPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  const issue: CertificateAuthority['issue'] = async (names, opts = {}) => {
    const list = (Array.isArray(names) ? names : [names]).map((n) => n.toLowerCase());
    if (list.length === 0) throw new Error('a certificate needs at least one name');
    const notBefore = new Date(Date.now() - DAY);
    const notAfter = new Date(notBefore.getTime() + LEAF_DAYS * DAY);
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: new x509.Name([{ CN: [list[0].slice(0, 64)] }]),
      issuer: caCert.subjectName,
      notBefore,
      notAfter,
      publicKey: leafPublic,
      signingKey,
      signingAlgorithm: signAlg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, ...(opts.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : [])]),
        new x509.SubjectAlternativeNameExtension(list.map((n) => (isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }))),
        aki,
      ],
    });
    return { cert: leaf.toString('pem') + '\n' + certPem, key: leafKeyPem, notAfter: notAfter.getTime() };
  };
  return { certPem, fingerprint256, der, keyType: key.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec', ...(dir ? { dir } : {}), issue };
}

async function importPrivate(key: KeyObject, alg: ImportAlg): Promise<webcrypto.CryptoKey> {
  // PKCS#8 whatever the file held (PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY"): WebCrypto imports only that.
  const der = key.export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, alg, false, ['sign']);
}

/** Positive, random, 16 bytes: unique per certificate, as browsers and Apple require. */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) || 0x01;
  return b.toString('hex');
}
