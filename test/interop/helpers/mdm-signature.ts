/**
 * The `Mdm-Signature` header a device sends when its enrolment profile has SignMessage: base64 of a detached
 * CMS (PKCS#7) SignedData over the exact body bytes, signed with the device identity key and carrying its
 * certificate. A server verifies it against the body it received, so it proves the body arrived byte for byte.
 */
import forge from 'node-forge';
import type { Identity } from './certificates.js';
import { nativeSigner } from './native-signer.js';

export function mdmSignature(body: Buffer, identity: Identity): string {
  const p7 = forge.pkcs7.createSignedData();
  p7.content = forge.util.createBuffer(body.toString('binary'));
  const cert = forge.pki.certificateFromPem(identity.certPem);
  p7.addCertificate(cert);
  p7.addSigner({
    key: nativeSigner(identity.keyPem),
    certificate: cert,
    digestAlgorithm: forge.pki.oids.sha256,
    // In DER order (a SET OF is sorted by encoding): the verifier re-encodes the attributes to check them, and
    // node-forge signs them in the order given.
    authenticatedAttributes: [
      { type: forge.pki.oids.contentType, value: forge.pki.oids.data },
      { type: forge.pki.oids.signingTime },
      { type: forge.pki.oids.messageDigest },
    ],
  });
  p7.sign({ detached: true });
  return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'binary').toString('base64');
}
