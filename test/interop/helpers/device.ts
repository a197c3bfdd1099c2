/**
 * A test device that talks to mdmtap's reverse-mode port over real TLS (trusting mdmtap's CA) and proves its
 * identity one of the two ways NanoMDM accepts: an `Mdm-Signature` over each body, or its TLS client certificate
 * (which mdmtap forwards in a header). It enrols (Authenticate, TokenUpdate) and runs command sessions from Idle
 * to the server's zero-length reply, answering each command as the test's script says.
 */
import https from 'node:https';
import { randomBytes, randomUUID } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import * as plist from 'plist';
import type { Identity } from './certificates.js';
import { mdmSignature } from './mdm-signature.js';
import { applePlist } from './apple-plist.js';

export type IdentityMode = 'signature' | 'tls';

export interface DeviceOptions {
  /** mdmtap's listening port on 127.0.0.1. */
  port: number;
  /** mdmtap's CA (PEM), the only CA the device trusts. */
  ca: string;
  /** The device identity; absent: a device that proves nothing. */
  identity?: Identity;
  mode: IdentityMode;
  /** The push topic (the push certificate's UID). */
  topic: string;
  udid?: string;
}

export interface Reply {
  status: number;
  body: Buffer;
  /** The command the server sent, when the body is one. */
  command?: { uuid: string; requestType: string };
}

/** One line of a session as the device lived it: what it sent and what came back. */
export interface Step {
  sent: string;
  commandUUID?: string;
  reply: string;
}

export interface Answer {
  status: 'Acknowledged' | 'NotNow' | 'Error';
  /** Result keys that go into the report (e.g. InstalledApplicationList). */
  extra?: Record<string, unknown>;
}

export interface SendOptions {
  /** Added as given (the forged-header tests use this). */
  headers?: OutgoingHttpHeaders;
  /** No Content-Length: chunked transfer in many small pieces. */
  chunked?: boolean;
  /** Sign these bytes instead of the body (a tampered body under a stale signature). */
  signatureOver?: Buffer;
}

export const CHECKIN = 'application/x-apple-aspen-mdm-checkin';
export const COMMAND = 'application/x-apple-aspen-mdm';
const MAX_STEPS = 30;

export class TestDevice {
  readonly udid: string;
  readonly token = randomBytes(32);
  readonly pushMagic = randomUUID().toUpperCase();
  /** Every request body sent, and the HTTP status it got, in order. */
  readonly sent: Array<{ body: Buffer; status: number }> = [];
  private readonly agent: https.Agent;

  constructor(private readonly opts: DeviceOptions) {
    this.udid = opts.udid ?? randomUUID().toUpperCase();
    const clientCert = opts.mode === 'tls' && opts.identity ? { cert: opts.identity.certPem, key: opts.identity.keyPem } : {};
    // One keep-alive connection, as a device holds for a session.
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: opts.ca, ...clientCert });
  }

  get tokenHex(): string {
    return this.token.toString('hex');
  }

  /** PUTs one body to /mdm, signed as this device's mode says. */
  send(body: Buffer, contentType: string, o: SendOptions = {}): Promise<Reply> {
    const h: OutgoingHttpHeaders = { 'content-type': contentType, ...(o.chunked ? {} : { 'content-length': body.length }), ...o.headers };
    if (this.opts.mode === 'signature' && this.opts.identity) h['mdm-signature'] = mdmSignature(o.signatureOver ?? body, this.opts.identity);
    return new Promise<Reply>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: this.opts.port, method: 'PUT', path: '/mdm', headers: h, agent: this.agent, timeout: 15_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const reply: Reply = { status: res.statusCode ?? 0, body: Buffer.concat(chunks) };
            this.sent.push({ body, status: reply.status });
            const command = parseCommand(reply);
            resolve(command ? { ...reply, command } : reply);
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('the request timed out')));
      req.on('error', reject);
      if (!o.chunked) return void req.end(body);
      // Chunked transfer in small pieces, each written on its own turn, so they travel as separate segments.
      void (async () => {
        for (let i = 0; i < body.length; i += 7) {
          req.write(body.subarray(i, i + 7));
          await new Promise((r) => setImmediate(r));
        }
        req.end();
      })();
    });
  }

  checkin(messageType: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    return this.send(applePlist({ MessageType: messageType, UDID: this.udid, ...fields }), CHECKIN);
  }

  report(status: string, commandUUID?: string, extra: Record<string, unknown> = {}): Promise<Reply> {
    return this.send(applePlist({ Status: status, UDID: this.udid, ...(commandUUID ? { CommandUUID: commandUUID } : {}), ...extra }), COMMAND);
  }

  /** Authenticate then TokenUpdate; throws unless the server accepted both. */
  async enrol(): Promise<void> {
    const auth = await this.checkin('Authenticate', { Topic: this.opts.topic, BuildVersion: '22B83', OSVersion: '18.1', ProductName: 'iPhone15,2', SerialNumber: this.udid.slice(0, 12), DeviceName: 'interop' });
    if (auth.status !== 200) throw new Error(`Authenticate: HTTP ${auth.status} ${auth.body.toString()}`);
    const tu = await this.checkin('TokenUpdate', { Topic: this.opts.topic, Token: this.token, PushMagic: this.pushMagic });
    if (tu.status !== 200) throw new Error(`TokenUpdate: HTTP ${tu.status} ${tu.body.toString()}`);
  }

  /**
   * One command-channel session: Idle, then `answer` decides the reply to each command, until the server's
   * zero-length 200 (or an HTTP error, which ends it too). Bounded: a server that never stops fails the test.
   */
  async session(answer: (command: { uuid: string; requestType: string }, steps: Step[]) => Answer): Promise<Step[]> {
    const steps: Step[] = [];
    let reply = await this.report('Idle');
    steps.push({ sent: 'Idle', reply: describe(reply) });
    while (reply.command) {
      if (steps.length >= MAX_STEPS) throw new Error(`the session did not end after ${MAX_STEPS} exchanges: ${JSON.stringify(steps)}`);
      const cmd = reply.command;
      const a = answer(cmd, steps);
      reply = await this.report(a.status, cmd.uuid, a.extra ?? {});
      steps.push({ sent: a.status, commandUUID: cmd.uuid, reply: describe(reply) });
    }
    return steps;
  }

  close(): void {
    this.agent.destroy();
  }
}

function parseCommand(r: { status: number; body: Buffer }): { uuid: string; requestType: string } | undefined {
  if (r.status !== 200 || r.body.length === 0) return undefined;
  try {
    const p = plist.parse(r.body.toString('utf8')) as { CommandUUID?: string; Command?: { RequestType?: string } };
    if (p.CommandUUID && p.Command?.RequestType) return { uuid: p.CommandUUID, requestType: p.Command.RequestType };
  } catch {
    // not a command
  }
  return undefined;
}

/** `RequestType CommandUUID`, `end` for the zero-length 200, `http NNN` for an error. */
function describe(r: Reply): string {
  if (r.command) return `${r.command.requestType} ${r.command.uuid}`;
  if (r.status === 200 && r.body.length === 0) return 'end';
  return `http ${r.status}`;
}
