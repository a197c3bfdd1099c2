/**
 * mdmtap's certificate authority: created once in the certs folder, then used to issue a leaf certificate for
 * every MDM host it decrypts. Keys come from node:crypto (native, fast); node-forge only assembles and signs the
 * X.509 structures, which node:crypto cannot do.
 */
import { generateKeyPairSync, createHash, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (what iOS and macOS show). */
  fingerprint256: string;
  der: Buffer;
  dir: string;
  /** A leaf for `host` (DNS name or IP), cached in memory and on disk. */
  leafFor(host: string): { cert: string; key: string };
  /** Set when the key file had looser permissions than 0600 and was tightened. */
  tightened?: boolean;
}

const CA_YEARS = 10;
/** Apple accepts TLS server certificates valid for at most 825 days; 397 keeps us inside every current limit. */
const LEAF_DAYS = 397;

export function ensureCa(dir: string, opts: { commonName?: string } = {}): CertificateAuthority {
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca.key');
  let certPem: string;
  let keyPem: string;
  let tightened = false;
  if (existsSync(certFile) && existsSync(keyFile)) {
    certPem = readFileSync(certFile, 'utf8');
    keyPem = readFileSync(keyFile, 'utf8');
    if ((statSync(keyFile).mode & 0o077) !== 0) {
      chmodSync(keyFile, 0o600);
      tightened = true;
    }
  } else {
    ({ certPem, keyPem } = createCa(opts.commonName ?? 'mdmtap CA'));
    writeFileSync(keyFile, keyPem, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    writeFileSync(certFile, certPem, { mode: 0o644 });
  }
  const x509 = new X509Certificate(certPem);
  const der = x509.raw;
  const fingerprint256 = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
  const caCert = forge.pki.certificateFromPem(certPem);
  const caKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const leafKey = ensureLeafKey(dir);
  const cache = new Map<string, { cert: string; key: string }>();
  const hostsDir = join(dir, 'hosts');

  const leafFor = (host: string) => {
    const name = host.toLowerCase();
    const hit = cache.get(name);
    if (hit) return hit;
    const file = join(hostsDir, `${name.replace(/[^a-z0-9.-]/g, '_')}.pem`);
    let cert: string | undefined;
    if (existsSync(file)) {
      cert = readFileSync(file, 'utf8');
      // Reissue when it no longer matches this CA or expires within a week.
      const x = new X509Certificate(cert);
      if (!x.checkIssued(x509) || Date.parse(x.validTo) < Date.now() + 7 * 86_400_000) cert = undefined;
    }
    if (!cert) {
      cert = issueLeaf(name, caCert, caKey, leafKey.publicPem);
      mkdirSync(hostsDir, { recursive: true });
      writeFileSync(file, cert);
    }
    const pair = { cert: cert + certPem, key: leafKey.privatePem };
    cache.set(name, pair);
    return pair;
  };
  return { certPem, keyPem, fingerprint256, der, dir, leafFor, ...(tightened ? { tightened } : {}) };
}

function createCa(commonName: string): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(pubPem);
  cert.serialNumber = serial();
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 86_400_000);
  cert.validity.notAfter = new Date(now.getTime() + CA_YEARS * 365 * 86_400_000);
  const attrs = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'mdmtap' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** One key for every leaf (as mitmproxy does): issuing stays cheap, and the key never leaves the certs folder. */
function ensureLeafKey(dir: string): { privatePem: string; publicPem: string } {
  const file = join(dir, 'leaf.key');
  let privatePem: string;
  if (existsSync(file)) {
    privatePem = readFileSync(file, 'utf8');
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  } else {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(file, privatePem, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  const pub = forge.pki.setRsaPublicKey(
    (forge.pki.privateKeyFromPem(privatePem) as forge.pki.rsa.PrivateKey).n,
    (forge.pki.privateKeyFromPem(privatePem) as forge.pki.rsa.PrivateKey).e,
  );
  return { privatePem, publicPem: forge.pki.publicKeyToPem(pub) };
}

function issueLeaf(host: string, caCert: forge.pki.Certificate, caKey: forge.pki.rsa.PrivateKey, publicPem: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = serial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 86_400_000);
  cert.validity.notAfter = new Date(now + LEAF_DAYS * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: host.slice(0, 64) }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = isIP(host) ? [{ type: 7, ip: host }] : [{ type: 2, value: host }];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    // clientAuth too, so the simulator's push certificate and test device identities can come from the same code.
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function serial(): string {
  // Positive, random, 16 bytes: unique per certificate as browsers and Apple require.
  const b = forge.random.getBytesSync(16);
  return '0' + forge.util.bytesToHex(b).slice(1);
}
