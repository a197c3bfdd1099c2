/**
 * The lighter load generator: the same devices and sessions as runLoad (proxy.ts), written as prebuilt HTTP/1.1
 * requests on raw TLS sockets and read back by Content-Length, with none of Node's HTTP client, agent or header
 * objects. On a 2-core machine the load generator's own CPU is taken from the proxy and the server; the lighter
 * it is, the less the direct-vs-proxy ratio is flattered by a slow client. Both rows are reported.
 */
import http from 'node:http';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { installedApplicationList, statusBody, type Load, type LoadShape } from './workload.js';

function request(body: Buffer, host: string): Buffer {
  const head = `PUT /mdm HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/x-apple-aspen-mdm\r\nmdm-signature: MIAGCSqGSIb3DQEHAqCAMIACAQEx\r\ncontent-length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** A TLS socket to the server, through the proxy's CONNECT when there is one. */
function connect(serverPort: number, t: { ca: string[]; proxy?: { host: string; port: number } }): Promise<tls.TLSSocket> {
  const target = `127.0.0.1:${serverPort}`;
  const secure = (socket?: Duplex) =>
    new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: serverPort, ca: t.ca, ...(socket ? { socket } : {}) }, () => resolve(s));
      s.once('error', reject);
    });
  if (!t.proxy) return secure();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: t.proxy!.host, port: t.proxy!.port, method: 'CONNECT', path: target, headers: { host: target } });
    req.on('connect', (res, raw) => (res.statusCode === 200 ? secure(raw).then(resolve, reject) : reject(new Error(`CONNECT ${res.statusCode}`))));
    req.on('error', reject);
    req.end();
  });
}

/** Reads one response at a time from a socket: status and Content-Length from the head, then the body's bytes. */
class Responses {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: ((status: number) => void) | undefined;

  constructor(socket: tls.TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.drain();
    });
    // A closed connection answers what is still awaited with status 0 (an error).
    socket.on('close', () => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.(0);
    });
  }

  next(): Promise<number> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.drain();
    });
  }

  private drain(): void {
    if (!this.waiting) return;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buf.length < end + 4 + length) return;
    this.buf = this.buf.subarray(end + 4 + length);
    const w = this.waiting;
    this.waiting = undefined;
    w(Number(head.slice(9, 12)));
  }
}

export async function runRawLoad(serverPort: number, ms: number, transport: { ca: string[]; proxy?: { host: string; port: number } }, shape: LoadShape): Promise<Load> {
  const big = installedApplicationList(shape.bigBytes);
  const bigExtra = big.toString('utf8').match(/<key>InstalledApplicationList<\/key>[\s\S]*<\/array>/)![0];
  const load: Load = { exchanges: 0, errors: 0, latencies: [], bigLatencies: [] };
  const deadline = Date.now() + ms;
  const host = `127.0.0.1:${serverPort}`;
  const device = async (i: number) => {
    const udid = `BENCH-${String(i).padStart(4, '0')}`;
    const idle = request(statusBody(udid, 'Idle'), host);
    const notNow = request(statusBody(udid, 'NotNow', '0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55'), host);
    const ack = request(statusBody(udid, 'Acknowledged', '1A2B3C4D-7C1D-4E35-9A7B-3C0E2D1F4A56'), host);
    const ackBig = request(statusBody(udid, 'Acknowledged', '1A2B3C4D-7C1D-4E35-9A7B-3C0E2D1F4A56', bigExtra), host);
    let socket: tls.TLSSocket;
    try {
      socket = await connect(serverPort, transport);
    } catch {
      load.errors++;
      return;
    }
    socket.setNoDelay(true);
    // Bounded: a target that stops answering is cut off a few seconds after the deadline.
    const guard = setTimeout(() => socket.destroy(), Math.max(1, deadline + 5000 - Date.now()));
    let broken = false;
    socket.on('error', () => (broken = true));
    socket.on('close', () => (broken = true));
    const responses = new Responses(socket);
    const put = async (req: Buffer) => {
      const t0 = performance.now();
      socket.write(req);
      const status = await responses.next();
      const took = performance.now() - t0;
      load.latencies.push(took);
      if (req.length > 100_000) load.bigLatencies.push(took);
      if (status === 200) load.exchanges++;
      else {
        load.errors++;
        broken = true;
      }
    };
    let session = 0;
    // Bounded: stops at the deadline (or when the connection breaks) whatever the target does.
    while (Date.now() < deadline && !broken) {
      await put(idle);
      if (broken) break;
      await put(notNow);
      if (broken) break;
      await put(++session % shape.bigEvery === 0 ? ackBig : ack);
      if (shape.pauseMs) await new Promise((r) => setTimeout(r, shape.pauseMs));
    }
    clearTimeout(guard);
    socket.destroy();
  };
  await Promise.all(Array.from({ length: shape.devices }, (_, i) => device(i)));
  return load;
}
