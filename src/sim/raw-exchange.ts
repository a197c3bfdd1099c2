/**
 * One request on a kept-alive connection, written and read by hand, as a device that holds one connection does:
 * resolves with the status once the whole response (by Content-Length) has arrived, rejects if the connection
 * closes first. For tests and benchmarks that need to own the socket (Node's client agents do not share one).
 */
import type { Duplex } from 'node:stream';

export function exchangeOver(s: Duplex, path: string, body: Buffer, method = 'PUT'): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      done();
      resolve(Number(head.split(' ')[1]));
    };
    const onClose = () => {
      done();
      reject(new Error('the connection closed before the response'));
    };
    // A reset shows as 'close' after 'error': the error itself needs no handling beyond not being thrown.
    const onError = () => undefined;
    const done = () => {
      s.off('data', onData);
      s.off('close', onClose);
      s.off('error', onError);
    };
    s.on('data', onData);
    s.on('close', onClose);
    s.on('error', onError);
    // One write: a head and body in two segments would wait on the peer's delayed ACK (Nagle), 40 ms a request.
    s.write(Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\nhost: mdm.test\r\ncontent-type: application/x-apple-aspen-mdm\r\ncontent-length: ${body.length}\r\n\r\n`), body]));
  });
}
