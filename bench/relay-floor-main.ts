/**
 * The floor of any decrypting proxy built on Node: CONNECT, TLS terminated with a leaf from its own CA, one TLS
 * connection to the server per device connection, and the decrypted bytes passed across both ways as they come —
 * no HTTP parsing, no copy, no analysis. mdmtap does this and HTTP on both sides and everything else; the bench
 * measures both under the same load, so what mdmtap adds is the difference.
 *
 * argv: CA folder, upstream CA file, upstream port. Prints its port on stdout.
 */
import { measuringRelay } from './measuring-relay.js';

await measuringRelay('relay-floor', (device, upstream) => {
  device.on('data', (c: Buffer) => upstream.write(c));
  upstream.on('data', (c: Buffer) => device.write(c));
});
