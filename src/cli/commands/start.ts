/** `mdmtap [start]`: the live proxy between devices and an MDM server, with live analysis and capture. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { PushSeen } from '../../model/message.js';
import { resolve } from 'node:path';
import { DEFAULT_BODY_BUDGET, DEFAULT_MAX_CONNECTIONS, startProxy } from '../../proxy/proxy.js';
import { DEFAULT_TIMEOUTS } from '../../proxy/timeouts.js';
import type { CaKeyType } from '../../proxy/ca.js';
import { installLastResort } from '../last-resort.js';
import { LivePipeline } from '../../live/pipeline.js';
import { present } from '../present.js';
import { consoleSink } from '../../sinks/console.js';
import { caKeyTypeOption, cidrOption, collect, countOption, durationOption, portOption, sizeOption } from '../options.js';
import { UserError } from '../errors.js';
import {
  DEFAULT_CERTS,
  DEFAULT_DB,
  DEFAULT_MAX_BODY,
  DEFAULT_PORT,
  DEFAULT_PUSH_GRACE_MS,
  DEFAULT_PUSH_WAKE_MS,
  DEFAULT_RETURN_WINDOW_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
} from '../defaults.js';
import { formatDuration } from '../../util/duration.js';
import { openSinks } from '../sinks.js';

export interface StartOptions {
  port: number;
  host: string;
  mdmHost: string[];
  upstream?: string;
  upstreamCa: string[];
  insecureUpstream?: boolean;
  clientCertHeader?: string;
  db: string | false;
  bodies: boolean;
  pushGrace: number;
  sessionTimeout: number;
  pushWake: number;
  returnWindow: number;
  json?: boolean;
  plain?: boolean;
  certs: string;
  keepSecrets?: boolean;
  maxBody: number;
  apnsCert?: string;
  apnsKey?: string;
  apnsUpstream?: string;
  apnsUpstreamCa: string[];
  serverName: string[];
  allowClient: string[];
  maxConnections: number;
  bodyBudget: number;
  handshakeTimeout: number;
  headerTimeout: number;
  requestTimeout: number;
  idleTimeout: number;
  upstreamTimeout: number;
  caKeyType: CaKeyType;
}

export function registerStart(program: Command): void {
  program
    .command('start', { isDefault: true })
    .description('run the proxy (the default command)')
    .option('--port <port>', 'port to listen on', portOption, DEFAULT_PORT)
    .option('--host <address>', 'address to bind', '0.0.0.0')
    .option('--mdm-host <host[:port]>', 'forward mode: an MDM host to decrypt (repeatable); every other CONNECT is tunnelled untouched', collect, [])
    .option('--upstream <url>', 'reverse mode: devices talk to mdmtap, which forwards to this MDM server URL')
    .option('--upstream-ca <file>', 'extra CA certificate (PEM) to trust for the upstream (repeatable)', collect, [])
    .option('--insecure-upstream', 'do not verify the upstream certificate (warned on every start)')
    .option('--client-cert-header <name>', "forward the device's TLS client certificate to the upstream in this header, as :base64-DER:")
    .option('--db <file>', 'SQLite capture file', DEFAULT_DB)
    .option('--no-db', 'keep no capture')
    .option('--no-bodies', 'store exchange metadata only, no bodies')
    .option('--push-grace <duration>', 'how long the server has to push after a session that owes one', durationOption('--push-grace'), DEFAULT_PUSH_GRACE_MS)
    .option('--session-timeout <duration>', 'a session silent this long counts as interrupted', durationOption('--session-timeout'), DEFAULT_SESSION_TIMEOUT_MS)
    .option('--push-wake <duration>', 'how long a push has to draw a session before push-no-checkin', durationOption('--push-wake'), DEFAULT_PUSH_WAKE_MS)
    .option('--return-window <duration>', 'how long a device has to come back after ending on NotNow before notnow-no-return', durationOption('--return-window'), DEFAULT_RETURN_WINDOW_MS)
    .option('--json', 'headless: print events as JSON lines on stdout (the default when stdout is not a terminal)')
    .option('--plain', 'on a terminal: one readable line per session outcome and warning instead of the dashboard')
    .option('--certs <dir>', 'where the mdmtap CA lives', DEFAULT_CERTS)
    .option('--keep-secrets', 'store raw bodies and headers, secrets included (announced on every start)')
    .option('--apns-cert <file>', "the MDM push certificate (PEM): lets mdmtap re-originate the server's APNs connection and see every push")
    .option('--apns-key <file>', 'the private key of the push certificate (PEM)')
    .option('--apns-upstream <url>', "send intercepted pushes to this APNs instead of Apple's (a lab or test APNs)")
    .option('--apns-upstream-ca <file>', 'extra CA (PEM) to trust for --apns-upstream (repeatable)', collect, [])
    .option('--max-body <size>', 'bytes of each body kept for analysis and capture', sizeOption('--max-body'), DEFAULT_MAX_BODY)
    .option('--body-budget <size>', 'bytes of body copies held for analysis at once, all exchanges together; past it bodies are forwarded but not copied', sizeOption('--body-budget'), DEFAULT_BODY_BUDGET)
    .option('--allow-client <cidr>', 'let clients from this public address block in (repeatable); private, loopback and link-local clients always may', cidrOption, [])
    .option('--server-name <name>', 'reverse mode: a name devices use to reach mdmtap, put in its certificate (repeatable)', collect, [])
    .option('--max-connections <n>', 'device connections at once; more are closed on arrival', countOption('--max-connections'), DEFAULT_MAX_CONNECTIONS)
    .option('--handshake-timeout <duration>', 'a device must complete its TLS handshake within this', durationOption('--handshake-timeout', 1), DEFAULT_TIMEOUTS.handshakeMs)
    .option('--header-timeout <duration>', "a request's headers must arrive within this of its first byte (and a new connection's first request)", durationOption('--header-timeout', 1), DEFAULT_TIMEOUTS.headersMs)
    .option('--request-timeout <duration>', 'a whole request, body included, must arrive within this of its first byte', durationOption('--request-timeout', 1), DEFAULT_TIMEOUTS.requestMs)
    .option('--idle-timeout <duration>', 'a kept-alive device connection with no new request is closed after this', durationOption('--idle-timeout', 1), DEFAULT_TIMEOUTS.idleMs)
    .option('--upstream-timeout <duration>', 'give up on the server after this long without a byte either way', durationOption('--upstream-timeout', 1), DEFAULT_TIMEOUTS.upstreamMs)
    .option('--ca-key-type <type>', 'key of a CA created now: p256 (ECDSA) or rsa (2048); an existing CA keeps its own', caKeyTypeOption, 'p256')
    .action(async (opts: StartOptions) => {
      await runStart(opts);
    });
}

export async function runStart(opts: StartOptions): Promise<void> {
  if (opts.mdmHost.length === 0 && !opts.upstream) {
    throw new UserError(
      'nothing to intercept: pass --mdm-host HOST[:PORT] (devices use mdmtap as their HTTP proxy) or --upstream URL (devices talk to mdmtap directly); see mdmtap start --help',
      2,
    );
  }
  if (opts.mdmHost.length && opts.upstream) {
    throw new UserError('--mdm-host (forward mode) and --upstream (reverse mode) exclude each other: run one mdmtap per mode', 2);
  }
  if (opts.serverName.length && !opts.upstream) throw new UserError('--server-name is for reverse mode (--upstream)', 2);
  if (opts.upstream) {
    let u: URL;
    try {
      u = new URL(opts.upstream);
    } catch {
      throw new UserError(`--upstream: "${opts.upstream}" is not a URL (write it like https://mdm.example.com/)`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UserError('--upstream: the URL must be https:// (or http://)');
  }
  const read = (flag: string) => (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      throw new UserError(`${flag}: cannot read ${f}`);
    }
  };
  const upstreamCa = opts.upstreamCa.map(read('--upstream-ca'));
  if (Boolean(opts.apnsCert) !== Boolean(opts.apnsKey)) throw new UserError('--apns-cert and --apns-key go together: the push certificate and its private key (PEM)');
  if (opts.apnsUpstream) {
    try {
      new URL(opts.apnsUpstream);
    } catch {
      throw new UserError(`--apns-upstream: "${opts.apnsUpstream}" is not a URL`);
    }
  }
  const apnsCert = opts.apnsCert ? read('--apns-cert')(opts.apnsCert) : undefined;
  const apnsKey = opts.apnsKey ? read('--apns-key')(opts.apnsKey) : undefined;
  const apnsUpstreamCa = opts.apnsUpstreamCa.map(read('--apns-upstream-ca'));
  const json = opts.json === true || !process.stdout.isTTY;
  const notices: string[] = [];
  if (opts.insecureUpstream) notices.push('WARNING: --insecure-upstream: the upstream server certificate is NOT verified.');
  if (opts.keepSecrets) {
    notices.push('WARNING: --keep-secrets: raw bodies and headers, with push tokens, PushMagic, PINs and passwords, are stored unredacted.');
  }

  const pipeline = new LivePipeline({
    pushGraceMs: opts.pushGrace,
    sessionTimeoutMs: opts.sessionTimeout,
    pushWakeMs: opts.pushWake,
    returnWindowMs: opts.returnWindow,
  });
  installLastResort((kind, message) => pipeline.error(kind, message));
  // The dashboard (TTY) or JSON lines; --plain keeps a terminal to one readable line per verdict.
  // The URLs as shown and recorded: credentials in them never leave the command line.
  const shown = {
    ...(opts.upstream ? { upstream: withoutCredentials(opts.upstream) } : {}),
    ...(opts.apnsUpstream ? { apnsUpstream: withoutCredentials(opts.apnsUpstream) } : {}),
  };
  const presenter = opts.plain && !json ? undefined : await present(pipeline, {
    json,
    info: {
      mode: opts.upstream ? 'reverse proxy' : 'forward proxy',
      ...(shown.upstream ? { upstream: shown.upstream } : {}),
      ...(opts.db !== false ? { captureFile: opts.db } : {}),
      pushGraceMs: opts.pushGrace,
      pushObservable: Boolean(apnsCert),
    },
    ...(opts.clientCertHeader ? { clientCertHeader: opts.clientCertHeader } : {}),
  });
  if (!presenter) pipeline.addSink(consoleSink());
  const sinks = await openSinks(pipeline, {
    db: opts.db === false ? undefined : resolve(opts.db),
    keepSecrets: opts.keepSecrets === true,
    bodies: opts.bodies,
    clientCertHeader: opts.clientCertHeader,
    // Recorded for auditors; a URL's user:password never is.
    options: { ...opts, ...shown },
  });
  const r = sinks.restored;
  if (r.tokens || r.obligations || r.warnings) {
    notices.push(`restored from the capture: ${r.tokens} push tokens, ${r.obligations} open push obligations, ${r.warnings} unresolved warnings`);
  }

  let proxy;
  try {
    proxy = await startProxy({
      host: opts.host,
      port: opts.port,
      mdmHosts: opts.mdmHost,
      upstream: opts.upstream,
      upstreamCa,
      insecureUpstream: opts.insecureUpstream === true,
      clientCertHeader: opts.clientCertHeader,
      certsDir: resolve(opts.certs),
      caKeyType: opts.caKeyType,
      maxBody: opts.maxBody,
      bodyBudget: opts.bodyBudget,
      maxConnections: opts.maxConnections,
      allowClients: opts.allowClient,
      serverNames: opts.serverName,
      timeouts: {
        handshakeMs: opts.handshakeTimeout,
        headersMs: opts.headerTimeout,
        requestMs: opts.requestTimeout,
        idleMs: opts.idleTimeout,
        upstreamMs: opts.upstreamTimeout,
      },
      ...(apnsCert && apnsKey
        ? {
            apns: {
              cert: apnsCert,
              key: apnsKey,
              ...(opts.apnsUpstream ? { upstream: opts.apnsUpstream } : {}),
              upstreamCa: apnsUpstreamCa,
              onPush: (p: PushSeen) => pipeline.push(p),
            },
          }
        : {}),
      onExchange: (ex) => pipeline.exchange(ex),
      onError: (e) => pipeline.error(e.kind, e.message),
    });
  } catch (e) {
    presenter?.close();
    await sinks.close();
    throw new UserError((e as Error).message, 1);
  }
  pipeline.start();
  presenter?.setInfo({ listen: `${opts.host}:${proxy.port}`, caFingerprint: proxy.caFingerprint, ...(notices.length ? { note: notices.join(' ') } : {}) });

  const where = `${opts.host}:${proxy.port}`;
  const mode = opts.upstream
    ? `reverse proxy to ${shown.upstream}`
    : `forward proxy, decrypting ${opts.mdmHost.join(', ')}`;
  const lines = [
    `mdmtap listening on ${where} (${mode})`,
    `CA ${resolve(opts.certs)}/ca.pem  SHA-256 ${proxy.caFingerprint}  (devices: http://<this-host>:${proxy.port}/ca.mobileconfig)`,
    `clients: loopback, private and link-local addresses${opts.allowClient.length ? ` and ${opts.allowClient.join(', ')}` : ' only (--allow-client CIDR admits a public block)'}; at most ${opts.maxConnections} connections`,
    `capture ${opts.db === false ? 'off (--no-db)' : resolve(opts.db)}; push grace ${formatDuration(opts.pushGrace)}; ${apnsCert ? `pushes observed (APNs interception${shown.apnsUpstream ? ` to ${shown.apnsUpstream}` : ''})` : 'pushes not observable (no --apns-cert)'}`,
    ...notices,
  ];

  // For `npm run bench`: how long the event loop stalled and the peak memory, printed on exit.
  const loop = process.env.MDMTAP_STATS ? monitorEventLoopDelay({ resolution: 2 }) : undefined;
  loop?.enable();
  // Signal handlers go in before the "listening" line: whoever reads that line may stop us at once.
  const stopped = new Promise<void>((done) => {
    let closing = false;
    const stop = () => {
      if (closing) return;
      closing = true;
      void (async () => {
        presenter?.close();
        await proxy.close();
        await pipeline.close();
        if (loop) {
          loop.disable();
          process.stderr.write(`mdmtap-stats ${JSON.stringify({ maxEventLoopDelayMs: loop.max / 1e6, p99EventLoopDelayMs: loop.percentile(99) / 1e6, maxRssMB: process.resourceUsage().maxRSS / 1024, cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6 })}\n`);
        }
        done();
      })();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void presenter?.quit.then(stop);
  });
  process.stderr.write(lines.join('\n') + '\n');
  await stopped;
}

/** A URL as mdmtap shows and records it: credentials in it become a tag. */
function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = 'redacted';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}
