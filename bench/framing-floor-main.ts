/**
 * What mdmtap would cost on an HTTP engine of its own instead of Node's http server and client: the TLS byte relay
 * (relay-floor-main.ts) plus HTTP/1.1 message framing by Content-Length on both sides, a copy of each body, one
 * Exchange per request/response pair, and the real classification and Analyzer (LivePipeline, no sinks).
 *
 * A measuring instrument, not a proxy: it frames only what the bench's load and server send (Content-Length, no
 * chunked bodies, no pipelining) and has none of the limits, timeouts and error paths of src/proxy. The bench runs
 * it beside mdmtap so the row says how much of mdmtap's CPU per exchange is Node's HTTP machinery (issue 17).
 *
 * argv: CA folder, upstream CA file, upstream port. Prints its port on stdout.
 */
import { LivePipeline } from '../src/live/pipeline.js';
import type { Exchange, Headers } from '../src/model/exchange.js';
import { measuringRelay } from './measuring-relay.js';

const pipeline = new LivePipeline();
pipeline.start();

interface Head {
  line: string;
  headers: Headers;
}

/** Finds message boundaries in one direction of a connection; bytes are forwarded by the caller as they come. */
class Framer {
  private carry: Buffer | undefined;
  /** Body bytes still to come; -1 while a head is awaited. */
  private remaining = -1;
  private chunks: Buffer[] = [];

  constructor(
    private readonly onHead: (h: Head) => void,
    private readonly onMessage: (body: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    let c = chunk;
    while (c.length > 0) {
      if (this.remaining < 0) {
        const b = this.carry ? Buffer.concat([this.carry, c]) : c;
        const end = b.indexOf('\r\n\r\n');
        if (end < 0) {
          this.carry = b;
          return;
        }
        this.carry = undefined;
        const lines = b.toString('latin1', 0, end).split('\r\n');
        const headers: Headers = {};
        for (let i = 1; i < lines.length; i++) {
          const colon = lines[i].indexOf(':');
          headers[lines[i].slice(0, colon).toLowerCase()] = lines[i].slice(colon + 1).trim();
        }
        this.onHead({ line: lines[0], headers });
        this.remaining = Number(headers['content-length'] ?? 0);
        c = b.subarray(end + 4);
      } else {
        const n = Math.min(this.remaining, c.length);
        this.chunks.push(c.subarray(0, n));
        this.remaining -= n;
        c = c.subarray(n);
      }
      if (this.remaining === 0) {
        this.remaining = -1;
        const body = Buffer.concat(this.chunks);
        this.chunks = [];
        this.onMessage(body);
      }
    }
  }
}

let seq = 0;
await measuringRelay('framing-floor', (device, upstream) => {
  let ex: Partial<Exchange> = {};
  const requests = new Framer(
    ({ line, headers }) => {
      const [method, path] = line.split(' ');
      ex = { id: String(++seq), connectionId: 'c', startedAt: Date.now(), host: '127.0.0.1', method, path, requestHeaders: headers };
    },
    (body) => {
      ex.requestBody = body;
      ex.requestSize = body.length;
      ex.requestTruncated = false;
    },
  );
  const responses = new Framer(
    ({ line, headers }) => {
      ex.status = Number(line.slice(9, 12));
      ex.responseHeaders = headers;
    },
    (body) => {
      const done = { ...ex, endedAt: Date.now(), responseBody: body, responseSize: body.length, responseTruncated: false } as Exchange;
      setImmediate(() => pipeline.exchange(done));
    },
  );
  device.on('data', (c: Buffer) => {
    upstream.write(c);
    requests.push(c);
  });
  upstream.on('data', (c: Buffer) => {
    device.write(c);
    responses.push(c);
  });
});
