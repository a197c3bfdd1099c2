/**
 * The real NanoMDM as a child process on 127.0.0.1: filekv storage in a temporary folder, API key, device CA, and
 * optionally `-cert-header`. Its API (enqueue, push, push certificate) is called over plain HTTP with basic auth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import * as plist from 'plist';
import { nanomdmBinary } from './nanomdm-binary.js';
import { waitForPort } from '../../helpers/free-port.js';

export interface NanoMdmOptions {
  port: number;
  /** A folder the caller removes: storage and the CA file go there. */
  dir: string;
  deviceCaPem: string;
  /** `-cert-header NAME`: take the device identity from this header instead of Mdm-Signature. */
  certHeader?: string;
  /** `-storage` backend (default filekv); `file` is the deprecated one. */
  storage?: 'filekv' | 'file';
  /** Extra environment (HTTPS_PROXY, SSL_CERT_FILE for pushes through mdmtap). */
  env?: Record<string, string>;
}

export interface ApiReply {
  status: number;
  body: string;
}

export interface NanoMdm {
  port: number;
  url: string;
  /** Everything it printed (stdout and stderr, interleaved), for diagnostics. */
  log(): string;
  enqueue(ids: string[], command: { CommandUUID: string; Command: Record<string, unknown> }, opts?: { push?: boolean }): Promise<ApiReply>;
  push(ids: string[]): Promise<ApiReply>;
  uploadPushCert(certPem: string, keyPem: string): Promise<ApiReply>;
  stop(): Promise<void>;
}

/** Environment variables that would send NanoMDM's pushes elsewhere than the test decides. */
const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

export async function startNanoMdm(opts: NanoMdmOptions): Promise<NanoMdm> {
  const bin = nanomdmBinary();
  const key = randomBytes(12).toString('hex');
  const caFile = join(opts.dir, 'device-ca.pem');
  writeFileSync(caFile, opts.deviceCaPem);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const v of PROXY_VARS) delete env[v];
  Object.assign(env, opts.env);
  const args = ['-listen', `127.0.0.1:${opts.port}`, '-storage', opts.storage ?? 'filekv', '-storage-dsn', join(opts.dir, 'db'), '-api', key, '-ca', caFile, '-debug'];
  if (opts.storage === 'file') args.push('-storage-options', 'enable_deprecated=1');
  if (opts.certHeader) args.push('-cert-header', opts.certHeader);
  const child: ChildProcess = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  try {
    await waitForPort(opts.port, 10_000, alive);
    // Whoever answers must be this NanoMDM: another process may hold the port, and NanoMDM then exits.
    const version = await fetch(`http://127.0.0.1:${opts.port}/version`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text());
    if (!version.includes('"version"')) throw new Error(`127.0.0.1:${opts.port} is not NanoMDM (it answered ${JSON.stringify(version.slice(0, 80))})`);
    await new Promise((r) => setTimeout(r, 50));
    if (!alive()) throw new Error('NanoMDM exited right after starting');
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${(e as Error).message}\nNanoMDM said:\n${log}`);
  }
  const auth = 'Basic ' + Buffer.from(`nanomdm:${key}`).toString('base64');
  const base = `http://127.0.0.1:${opts.port}`;
  const api = async (method: string, path: string, body?: string): Promise<ApiReply> => {
    const res = await fetch(base + path, { method, headers: { authorization: auth }, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.text() };
  };
  return {
    port: opts.port,
    url: `${base}/`,
    log: () => log,
    enqueue: (ids, command, o = {}) => api('PUT', `/v1/enqueue/${ids.join(',')}${o.push ? '' : '?nopush=1'}`, plist.build(command as unknown as plist.PlistValue)),
    push: (ids) => api('GET', `/v1/push/${ids.join(',')}`),
    uploadPushCert: (certPem, keyPem) => api('PUT', '/v1/pushcert', certPem + keyPem),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
