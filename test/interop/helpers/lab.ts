/**
 * One test world on 127.0.0.1: the real NanoMDM behind mdmtap in reverse mode, NanoMDM's pushes going through
 * mdmtap (HTTPS_PROXY) to a local APNs stand-in, a device CA NanoMDM trusts, and test devices in front of mdmtap.
 *
 * Start order matters: NanoMDM's proxy setting needs mdmtap's port and mdmtap's --upstream needs NanoMDM's, so
 * NanoMDM's port is picked first, mdmtap is started on port 0 and its port read from its listening line, and
 * NanoMDM starts last.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { tempDir } from '../../helpers/tls-peers.js';
import { makeDeviceCa, makePushCertificate, type DeviceCa, type Identity, type PushCertificate } from './certificates.js';
import { startApnsStandIn, type ApnsStandIn } from './apns-stand-in.js';
import { freePort } from '../../helpers/free-port.js';
import { startNanoMdm, type NanoMdm } from './nanomdm.js';
import { startMdmtap, type MdmtapProcess } from './mdmtap-process.js';
import type { AnalyzerEvent } from '../../../src/model/events.js';
import { TestDevice, type IdentityMode } from './device.js';
import { copyMdmtapCerts } from './mdmtap-certs.js';
import { startUpstreamRecorder, type UpstreamRecorder } from './upstream-recorder.js';

/** The header mdmtap puts the device's TLS certificate in and NanoMDM reads it from, in `tls` mode. */
export const CERT_HEADER = 'X-Client-Cert';

export interface LabOptions {
  mode: IdentityMode;
  /** mdmtap's --max-body, e.g. '64KiB'. */
  maxBody?: string;
  /** NanoMDM's storage backend (default filekv, as CI runs it). */
  storage?: 'filekv' | 'file';
  /** Put a recording relay between mdmtap and NanoMDM (see upstream-recorder.ts). */
  recordUpstream?: boolean;
  /** More mdmtap flags (e.g. --session-timeout). */
  mdmtapArgs?: string[];
}

export interface Lab {
  mode: IdentityMode;
  dir: string;
  /** The SQLite capture mdmtap writes. */
  db: string;
  nanomdm: NanoMdm;
  mdmtap: MdmtapProcess;
  apns: ApnsStandIn;
  /** With `recordUpstream`: what mdmtap forwarded. */
  recorder?: UpstreamRecorder;
  pushCert: PushCertificate;
  deviceCa: DeviceCa;
  /** mdmtap's CA (PEM), what devices trust. */
  mdmtapCa: string;
  /** A device with a fresh identity from the lab's device CA (or the one given, or none with `identity: null`). */
  device(opts?: { identity?: Identity | null; udid?: string }): TestDevice;
  /** Stops mdmtap only (SIGTERM), so its capture is complete; returns its exit code. */
  stopMdmtap(): Promise<number | null>;
  /**
   * Stops mdmtap and starts it again on the same port and capture, with `extra` options after the first run's
   * (a later `--push-grace` wins). `mdmtap` then answers for both runs: events() holds the first run's and the new one's.
   */
  restartMdmtap(extra?: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * NanoMDM's port is picked free before mdmtap starts, and another process may take it in between (test files
 * run in parallel): then the whole lab starts again on new ports, a few times at most.
 */
export async function startLab(opts: LabOptions): Promise<Lab> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLabOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !/address already in use|is not NanoMDM|NanoMDM exited/i.test((e as Error).message)) throw e;
    }
  }
}

async function startLabOnce(opts: LabOptions): Promise<Lab> {
  const tmp = tempDir('mdmtap-interop-');
  const dir = tmp.dir;
  const closers: Array<() => Promise<unknown>> = [async () => tmp.remove()];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const deviceCa = makeDeviceCa();
    const pushCert = makePushCertificate();
    const file = (name: string, text: string) => {
      const f = join(dir, name);
      writeFileSync(f, text, { mode: 0o600 });
      return f;
    };
    const apns = await startApnsStandIn(pushCert.der);
    closers.push(() => apns.close());

    const nanoPort = await freePort();
    const recorder = opts.recordUpstream ? await startUpstreamRecorder(nanoPort) : undefined;
    if (recorder) closers.push(() => recorder.close());
    const db = join(dir, 'capture.sqlite');
    const certs = join(dir, 'certs');
    await copyMdmtapCerts(certs);
    const args = [
      '--upstream', `http://127.0.0.1:${recorder?.port ?? nanoPort}/`,
      '--db', db,
      '--certs', certs,
      '--apns-cert', file('push.pem', pushCert.certPem),
      '--apns-key', file('push.key', pushCert.keyPem),
      '--apns-upstream', apns.url,
      '--apns-upstream-ca', file('apns-ca.pem', apns.caPem),
      ...(opts.mode === 'tls' ? ['--client-cert-header', CERT_HEADER] : []),
      ...(opts.maxBody ? ['--max-body', opts.maxBody] : []),
      ...(opts.mdmtapArgs ?? []),
    ];
    let current = await startMdmtap(args);
    closers.push(() => current.stop());
    let earlier: AnalyzerEvent[] = [];
    const all = (now: AnalyzerEvent[]) => (earlier.length ? [...earlier, ...now] : now);
    const mdmtap: MdmtapProcess = {
      port: current.port,
      events: () => all(current.events()),
      waitUntil: (pred, label, timeoutMs) => current.waitUntil((now) => pred(all(now)), label, timeoutMs),
      waitEvent: async (pred, label, timeoutMs) => earlier.find(pred) ?? current.waitEvent(pred, label, timeoutMs),
      stderr: () => current.stderr(),
      stop: () => current.stop(),
    };
    const mdmtapCa = readFileSync(join(certs, 'ca.pem'), 'utf8');

    // NanoMDM trusts the system CAs plus mdmtap's, so mdmtap can terminate its APNs connection.
    const bundle = file('ca-bundle.pem', [...tls.rootCertificates, mdmtapCa].join('\n'));
    const nanomdm = await startNanoMdm({
      port: nanoPort,
      dir,
      deviceCaPem: deviceCa.certPem,
      ...(opts.storage ? { storage: opts.storage } : {}),
      ...(opts.mode === 'tls' ? { certHeader: CERT_HEADER } : {}),
      env: { HTTPS_PROXY: `http://127.0.0.1:${mdmtap.port}`, SSL_CERT_FILE: bundle },
    });
    closers.push(() => nanomdm.stop());
    const up = await nanomdm.uploadPushCert(pushCert.certPem, pushCert.keyPem);
    if (up.status !== 200) throw new Error(`NanoMDM refused the push certificate: HTTP ${up.status} ${up.body}`);

    const devices: TestDevice[] = [];
    closers.push(async () => devices.forEach((d) => d.close()));
    return {
      mode: opts.mode,
      dir,
      db,
      nanomdm,
      mdmtap,
      apns,
      ...(recorder ? { recorder } : {}),
      pushCert,
      deviceCa,
      mdmtapCa,
      device(o = {}) {
        const identity = o.identity === null ? undefined : (o.identity ?? deviceCa.issue(`interop device ${devices.length + 1}`));
        const d = new TestDevice({ port: mdmtap.port, ca: mdmtapCa, mode: opts.mode, topic: pushCert.topic, ...(identity ? { identity } : {}), ...(o.udid ? { udid: o.udid } : {}) });
        devices.push(d);
        return d;
      },
      stopMdmtap: () => mdmtap.stop(),
      async restartMdmtap(extra = []) {
        await current.stop();
        earlier = mdmtap.events();
        current = await startMdmtap([...args, ...extra, '--port', String(mdmtap.port)]);
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
