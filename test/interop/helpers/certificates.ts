/**
 * Throwaway X.509 material for the interoperability suite: a device CA (NanoMDM's `-ca`), device identities it
 * issues, and a self-signed MDM push certificate whose subject UID is the push topic, as Apple's are. They all
 * share the process's one key (native-signer.ts): NanoMDM binds an enrolment to a certificate, not to a key.
 */
import { randomUUID, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { sharedKey } from './native-signer.js';

export interface Identity {
  certPem: string;
  keyPem: string;
  /** The certificate in DER, as a TLS handshake or RFC 9440 header carries it. */
  der: Buffer;
}

export interface TestCa extends Identity {
  /** Issues a device identity (TLS client certificate / Mdm-Signature signer) for `commonName`. */
  issue(commonName: string): Identity;
  /** Issues a TLS server certificate for an IP address. */
  issueServer(ip: string): Identity;
}

/** The CA NanoMDM trusts for device identities (`-ca`). */
export type DeviceCa = TestCa;

const DAY = 86_400_000;

function certificate(subject: forge.pki.CertificateField[], issuer: forge.pki.CertificateField[], extensions: object[]): Identity {
  const key = sharedKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = '0' + forge.util.bytesToHex(forge.random.getBytesSync(16)).slice(1);
  cert.validity.notBefore = new Date(Date.now() - DAY);
  cert.validity.notAfter = new Date(Date.now() + 30 * DAY);
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  cert.setExtensions(extensions);
  cert.sign(key.signer, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  return { certPem, keyPem: key.pem, der: new X509Certificate(certPem).raw };
}

export function makeCa(name = `mdmtap interop CA ${randomUUID().slice(0, 8)}`): TestCa {
  const subject = [{ name: 'commonName', value: name }];
  const ca = certificate(subject, subject, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return {
    ...ca,
    issue: (commonName) =>
      certificate([{ name: 'commonName', value: commonName }], subject, [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ]),
    issueServer: (ip) =>
      certificate([{ name: 'commonName', value: ip }], subject, [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip }] },
      ]),
  };
}

export const makeDeviceCa = (): DeviceCa => makeCa(`mdmtap interop device CA ${randomUUID().slice(0, 8)}`);

export interface PushCertificate extends Identity {
  /** `com.apple.mgmt.External.<uuid>`: the certificate subject's UID, which NanoMDM takes as the push topic. */
  topic: string;
}

/** A self-signed MDM push certificate (Apple issues the real ones; NanoMDM only reads the topic from it). */
export function makePushCertificate(): PushCertificate {
  const topic = `com.apple.mgmt.External.${randomUUID()}`;
  const subject = [
    { type: '0.9.2342.19200300.100.1.1', value: topic },
    { name: 'commonName', value: `APSP:${topic.slice(-36)}` },
  ];
  return { ...certificate(subject, subject, [{ name: 'basicConstraints', cA: false }, { name: 'extKeyUsage', clientAuth: true }]), topic };
}
