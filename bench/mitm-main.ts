/**
 * Bare http-mitm-proxy, no decoding and no analysis: the floor of the interception library, for comparison with
 * mdmtap in the same run. Decrypts every CONNECT (its default). Prints its port; argv[2] is its CA folder.
 */
import { Proxy } from 'http-mitm-proxy';
import https from 'node:https';

const dir = process.argv[2];
const port = Number(process.argv[3] ?? 0);
const proxy = new Proxy();
proxy.onError((_ctx, err) => {
  if (err) process.stderr.write(`http-mitm-proxy: ${err.message}\n`);
});
proxy.listen({ host: '127.0.0.1', port, sslCaDir: dir, keepAlive: true, httpsAgent: new https.Agent({ keepAlive: true }) }, () => {
  process.stdout.write(`${port}\n`);
});
process.on('SIGTERM', () => {
  proxy.close();
  process.exit(0);
});
