/**
 * The mdmtap CA and its leaves: iOS/macOS trust rules (SHA-2 signature, name in subjectAltName, serverAuth, at most
 * 398 days), ECDSA P-256 by default with RSA on request, an existing RSA CA still issuing, leaves only for names
 * mdmtap decrypts, nothing written to disk but the CA, and a bounded in-memory cache.
 */
import { describe, expect, it } from 'vitest';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, ensureCa, LEAF_DAYS } from '../../src/proxy/ca.js';
import { LeafContexts } from '../../src/proxy/leaf-contexts.js';
import { startProxy } from '../../src/proxy/proxy.js';
import { connectTls, plainGet, requestOver, startUpstream, tempDir } from '../helpers/tls-peers.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const DAY = 86_400_000;

/** The rules Apple applies to a TLS server certificate (support.apple.com HT210176, HT211025). */
function expectAppleServerLeaf(pem: string, name: string, ca: X509Certificate): void {
  const leaf = new X509Certificate(pem);
  const parsed = new x509.X509Certificate(pem);
  expect(leaf.checkIssued(ca)).toBe(true);
  expect(leaf.verify(ca.publicKey)).toBe(true);
  expect(leaf.ca).toBe(false);
  expect(leaf.subjectAltName).toContain(name);
  expect(leaf.keyUsage).toEqual([SERVER_AUTH]);
  expect((Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / DAY).toBeLessThanOrEqual(398);
  expect(leaf.publicKey.asymmetricKeyType).toBe('ec');
  expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  expect((parsed.signatureAlgorithm as { hash?: { name: string } }).hash?.name).toBe('SHA-256');
  const bc = parsed.getExtension(x509.BasicConstraintsExtension)!;
  expect(bc.ca).toBe(false);
  const ku = parsed.getExtension(x509.KeyUsagesExtension)!;
  expect(ku.critical).toBe(true);
  expect(ku.usages & x509.KeyUsageFlags.digitalSignature).toBeTruthy();
  expect(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)).toBeTruthy();
}

describe('the mdmtap CA', () => {
  it('is ECDSA P-256 by default: a 10-year root for signing certificates only, key file 0600', async () => {
    const certs = tempDir();
    try {
      const ca = await ensureCa(certs.dir);
      const root = new X509Certificate(ca.certPem);
      expect(root.ca).toBe(true);
      expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect((Date.parse(root.validTo) - Date.now()) / (365 * DAY)).toBeGreaterThan(9.9);
      const parsed = new x509.X509Certificate(ca.certPem);
      expect(parsed.getExtension(x509.BasicConstraintsExtension)!.critical).toBe(true);
      expect(parsed.getExtension(x509.KeyUsagesExtension)!.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
      expect(statSync(join(certs.dir, 'ca.key')).mode & 0o777).toBe(0o600);
      const leaf = await ca.issue('mdm.example.com');
      expectAppleServerLeaf(leaf.cert, 'DNS:mdm.example.com', root);
      expect((leaf.notAfter - Date.now()) / DAY).toBeLessThanOrEqual(LEAF_DAYS);
      const ip = await ca.issue('192.0.2.10');
      expectAppleServerLeaf(ip.cert, 'IP Address:192.0.2.10', root);
      // Loaded again from disk: the same CA.
      expect((await ensureCa(certs.dir)).fingerprint256).toBe(ca.fingerprint256);
    } finally {
      certs.remove();
    }
  });

  it('an RSA CA (chosen, or left in certs/ by an earlier mdmtap) keeps issuing leaves devices accept', async () => {
    const certs = tempDir();
    const upstream = await startUpstream((_s, res) => res.end('ok'));
    try {
      const ca = await ensureCa(certs.dir, { keyType: 'rsa' });
      expect(ca.keyType).toBe('rsa');
      const root = new X509Certificate(ca.certPem);
      expect(root.publicKey.asymmetricKeyType).toBe('rsa');
      const leaf = await ca.issue('mdm.example.com');
      expectAppleServerLeaf(leaf.cert, 'DNS:mdm.example.com', root);
      expect((new x509.X509Certificate(leaf.cert).signatureAlgorithm as { name?: string }).name).toBe('RSASSA-PKCS1-v1_5');
      // The proxy started on that folder (it asks for p256: an existing CA keeps its own key) serves through it.
      const target = `127.0.0.1:${upstream.port}`;
      const proxy = await startProxy({ host: '127.0.0.1', port: 0, mdmHosts: [target], upstreamCa: [upstream.ca.certPem], certsDir: certs.dir, caKeyType: 'p256', maxBody: 1024, onExchange() {}, onError() {} });
      try {
        expect(proxy.caFingerprint).toBe(ca.fingerprint256);
        const s = await connectTls(proxy.port, target, ca.certPem);
        expect((await requestOver(s, { body: Buffer.from('x') })).status).toBe(200);
        s.destroy();
      } finally {
        await proxy.close();
      }
    } finally {
      await upstream.close();
      certs.remove();
    }
  });

  it('never serves the CA key, and writes nothing to disk but the CA itself', async () => {
    const certs = tempDir();
    const upstream = await startUpstream((_s, res) => res.end('ok'));
    const target = `127.0.0.1:${upstream.port}`;
    const proxy = await startProxy({ host: '127.0.0.1', port: 0, mdmHosts: [target], upstreamCa: [upstream.ca.certPem], certsDir: certs.dir, maxBody: 1024, onExchange() {}, onError() {} });
    try {
      for (const path of ['/ca.key', '/certs/ca.key', '/../ca.key', '/leaf.key']) expect((await plainGet(proxy.port, path)).status).toBe(404);
      const pem = (await plainGet(proxy.port, '/ca.pem')).body.toString();
      expect(pem).not.toContain('PRIVATE KEY');
      // A device naming some other host in its ClientHello gets no certificate of its own.
      const before = proxy.leavesIssued();
      await expect(connectTls(proxy.port, target, proxy.ca.certPem, { servername: 'anything.example' })).rejects.toThrow();
      await expect(connectTls(proxy.port, target, proxy.ca.certPem, { servername: 'other.example' })).rejects.toThrow();
      expect(proxy.leavesIssued()).toBe(before);
      const s = await connectTls(proxy.port, target, proxy.ca.certPem);
      expect((await requestOver(s, { body: Buffer.from('x') })).status).toBe(200);
      s.destroy();
      expect(readdirSync(certs.dir).sort()).toEqual(['ca.key', 'ca.pem']);
    } finally {
      await proxy.close();
      await upstream.close();
      certs.remove();
    }
  });
});

describe('leaf contexts', () => {
  it('issue each name once, one at a time, and keep at most the bound', async () => {
    const ca = await createCa({ commonName: 'leaf cache test' });
    const leaves = new LeafContexts(ca, 3);
    const names = ['a.example', 'b.example', 'c.example', 'd.example'];
    await Promise.all(names.flatMap((n) => [leaves.get(n), leaves.get(n)]));
    expect(leaves.issued).toBe(4);
    expect(leaves.size).toBe(3);
    await leaves.get('d.example');
    expect(leaves.issued).toBe(4);
    // The least recently used (a) went first.
    await leaves.get('a.example');
    expect(leaves.issued).toBe(5);
  });
});
