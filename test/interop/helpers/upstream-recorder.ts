/**
 * A plain-HTTP relay between mdmtap and NanoMDM that records each request as mdmtap sent it (header names as
 * spelled, values, body) and passes it on unchanged. It shows what mdmtap forwards, which NanoMDM's behaviour
 * alone cannot (NanoMDM ignores headers it does not read).
 */
import http from 'node:http';
import type net from 'node:net';

export interface Forwarded {
  method: string;
  url: string;
  /** [name, value, name, value, …] as received. */
  rawHeaders: string[];
  body: Buffer;
}

export interface UpstreamRecorder {
  port: number;
  seen: Forwarded[];
  close(): Promise<void>;
}

export async function startUpstreamRecorder(targetPort: number): Promise<UpstreamRecorder> {
  const seen: Forwarded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body });
      const headers: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (!/^(connection|keep-alive|transfer-encoding|content-length)$/i.test(req.rawHeaders[i])) headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
      }
      headers.push('content-length', String(body.length));
      const up = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers }, (upRes) => {
        const back: Buffer[] = [];
        upRes.on('data', (c: Buffer) => back.push(c));
        upRes.on('end', () => {
          const b = Buffer.concat(back);
          res.writeHead(upRes.statusCode ?? 502, { 'content-type': upRes.headers['content-type'] ?? 'text/plain', 'content-length': b.length });
          res.end(b);
        });
      });
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(`recorder: ${e.message}`);
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Values of header `name` (case-insensitive, exact spelling otherwise) in a recorded request. */
export function headerValues(f: Forwarded, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < f.rawHeaders.length; i += 2) if (f.rawHeaders[i].toLowerCase() === name.toLowerCase()) out.push(f.rawHeaders[i + 1]);
  return out;
}
