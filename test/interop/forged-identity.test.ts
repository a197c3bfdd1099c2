/**
 * Identity by certificate header (`--client-cert-header X-Client-Cert` → NanoMDM `-cert-header X-Client-Cert`):
 * NanoMDM believes whatever certificate that header carries, so mdmtap must be the only one who sets it, from
 * the TLS handshake it did itself, and must not open any other way to NanoMDM.
 */
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { labPerTest } from './helpers/lab-per-test.js';
import { CERT_HEADER, type Lab } from './helpers/lab.js';
import { applePlist } from './helpers/apple-plist.js';
import { COMMAND } from './helpers/device.js';
import { headerValues } from './helpers/upstream-recorder.js';
import type { Identity } from './helpers/certificates.js';

const newLab = labPerTest();

/** RFC 9440 form, as mdmtap sends it and NanoMDM reads it. */
const rfc9440 = (id: Identity) => `:${id.der.toString('base64')}:`;

/** An enrolled victim, and the Idle report an attacker sends in its name. */
async function victimOf(lab: Lab) {
  const identity = lab.deviceCa.issue('victim');
  const victim = lab.device({ identity });
  await victim.enrol();
  return { victim, identity, idle: applePlist({ Status: 'Idle', UDID: victim.udid }) };
}

describe('identity by certificate header', () => {
  it('the control: a forged X-Client-Cert sent straight to NanoMDM is believed (so mdmtap must strip it)', async () => {
    const lab = await newLab({ mode: 'tls' });
    const { identity, idle } = await victimOf(lab);
    const res = await fetch(`${lab.nanomdm.url}mdm`, { method: 'PUT', headers: { [CERT_HEADER]: rfc9440(identity), 'content-type': COMMAND }, body: idle, signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
  });

  it.each([
    ['no client certificate', false],
    ['its own valid client certificate', true],
  ])("a client with %s forging X-Client-Cert with another device's certificate: stripped, refused by NanoMDM", async (_what, ownCert) => {
    const lab = await newLab({ mode: 'tls', recordUpstream: true });
    const { victim, identity, idle } = await victimOf(lab);
    const own = lab.deviceCa.issue('attacker');
    const attacker = lab.device({ udid: victim.udid, identity: ownCert ? own : null });
    const before = lab.recorder!.seen.length;
    const res = await attacker.send(idle, COMMAND, { headers: { [CERT_HEADER]: rfc9440(identity), 'x-client-cert': rfc9440(identity) } });

    // NanoMDM: no certificate is 400 (missing MDM certificate); a valid one not bound to the UDID is 500.
    expect(res.status).toBe(ownCert ? 500 : 400);
    const forwarded = lab.recorder!.seen.slice(before);
    expect(forwarded).toHaveLength(1);
    // Only what mdmtap saw in the TLS handshake: the attacker's own certificate, or nothing.
    expect(headerValues(forwarded[0], CERT_HEADER)).toEqual(ownCert ? [rfc9440(own)] : []);
  });

  it('the underscore spelling X_Client_Cert does not reach the server either', async () => {
    // NanoMDM (Go) reads only X-Client-Cert, but servers behind CGI/WSGI-style gateways read X_Client_Cert and
    // X-Client-Cert as the same variable: a forged underscore spelling must not pass through mdmtap.
    const lab = await newLab({ mode: 'tls', recordUpstream: true });
    const { victim, identity, idle } = await victimOf(lab);
    const attacker = lab.device({ udid: victim.udid, identity: null });
    const before = lab.recorder!.seen.length;
    const res = await attacker.send(idle, COMMAND, { headers: { X_Client_Cert: rfc9440(identity) } });
    expect(res.status).toBe(400);
    const forwarded = lab.recorder!.seen.slice(before);
    expect(forwarded).toHaveLength(1);
    expect({ hyphen: headerValues(forwarded[0], CERT_HEADER), underscore: headerValues(forwarded[0], 'X_Client_Cert') }).toEqual({ hyphen: [], underscore: [] });
  });

  it("a CONNECT to mdmtap's reverse-mode port aiming at NanoMDM is refused (4xx) and reaches nothing", async () => {
    const lab = await newLab({ mode: 'tls' });
    const { identity, idle } = await victimOf(lab);
    const requestsBefore = countRequests(lab.nanomdm.log());
    const target = `127.0.0.1:${lab.nanomdm.port}`;
    const socket = net.connect({ host: '127.0.0.1', port: lab.mdmtap.port });
    try {
      const statusLine = await exchangeLine(socket, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      let tunnelled = '';
      if (/^HTTP\/1\.[01] 200/.test(statusLine)) {
        // The tunnel is open: through it, the forged header reaches NanoMDM untouched.
        tunnelled = await exchangeLine(
          socket,
          `PUT /mdm HTTP/1.1\r\nHost: ${target}\r\n${CERT_HEADER}: ${rfc9440(identity)}\r\nContent-Type: ${COMMAND}\r\nContent-Length: ${idle.length}\r\nConnection: close\r\n\r\n${idle.toString('utf8')}`,
        );
      }
      expect({ statusLine, tunnelled }).toEqual({ statusLine: expect.stringMatching(/^HTTP\/1\.[01] 4\d\d /), tunnelled: '' });
      expect(countRequests(lab.nanomdm.log())).toBe(requestsBefore);
    } finally {
      socket.destroy();
    }
  });
});

/** Requests NanoMDM logged (one `handler=log` line each). */
function countRequests(log: string): number {
  return log.split('\n').filter((l) => l.includes('handler=log')).length;
}

/** Writes `text` and resolves with the first line that comes back (empty if the peer closes first); 5 s bound. */
function exchangeLine(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const done = () => {
      socket.off('data', onData);
      socket.off('close', done);
      clearTimeout(timer);
      resolve(got.split('\r\n')[0]);
    };
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done();
    };
    const timer = setTimeout(done, 5000);
    socket.on('data', onData);
    socket.once('close', done);
    socket.write(text);
  });
}
