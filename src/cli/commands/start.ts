/** `mdmtap [start]`: the live proxy between devices and an MDM server, with live analysis and capture. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { PushSeen } from '../../model/message.js';
import { resolve } from 'node:path';
import { DEFAULT_BODY_BUDGET, DEFAULT_MAX_CONNECTIONS, startProxy, type ProxyOptions, type RunningProxy } from '../../proxy/proxy.js';
import { DEFAULT_TIMEOUTS } from '../../proxy/timeouts.js';
import type { CaKeyType } from '../../proxy/ca.js';
import { installLastResort } from '../last-resort.js';
import { LivePipeline } from '../../live/pipeline.js';
import { present, type Presenter } from '../present.js';
import { consoleSink } from '../../sinks/console.js';
import { openSinkModules, SINK_MODULES } from '../../sinks/index.js';
import { caKeyTypeOption, cidrOption, collect, countOption, durationOption, portOption, sizeOption } from '../options.js';
import { UserError } from '../errors.js';
import { DEFAULT_CERTS, DEFAULT_MAX_BODY, DEFAULT_PORT } from '../defaults.js';
import { formatDuration } from '../../util/duration.js';
import { addSettingOptions, settingsFrom } from '../setting-options.js';
import type { Settings } from '../../analysis/settings.js';

export interface StartOptions {
  port: number;
  host: string;
  mdmHost: string[];
  upstream?: string;
  upstreamCa: string[];
  insecureUpstream?: boolean;
  clientCertHeader?: string;
  json?: boolean;
  plain?: boolean;
  certs: string;
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
  const cmd = program
    .command('start', { isDefault: true })
    .description('run the proxy (the default command)')
    .option('--port <port>', 'port to listen on', portOption, DEFAULT_PORT)
    .option('--host <address>', 'address to bind', '0.0.0.0')
    .option('--mdm-host <host[:port]>', 'forward mode: an MDM host to decrypt (repeatable); every other CONNECT is tunnelled untouched', collect, [])
    .option('--upstream <url>', 'reverse mode: devices talk to mdmtap, which forwards to this MDM server URL')
    .option('--upstream-ca <file>', 'extra CA certificate (PEM) to trust for the upstream (repeatable)', collect, [])
    .option('--insecure-upstream', 'do not verify the upstream certificate (warned on every start)')
    .option('--client-cert-header <name>', "forward the device's TLS client certificate to the upstream in this header, as :base64-DER:")
    .option('--json', 'headless: print events as JSON lines on stdout (the default when stdout is not a terminal)')
    .option('--plain', 'on a terminal: one readable line per session outcome and warning instead of the dashboard')
    .option('--certs <dir>', 'where the mdmtap CA lives', DEFAULT_CERTS)
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
    .option('--ca-key-type <type>', 'key of a CA created now: p256 (ECDSA) or rsa (2048); an existing CA keeps its own', caKeyTypeOption, 'p256');
  addSettingOptions(cmd);
  for (const m of SINK_MODULES) m.addOptions(cmd);
  cmd.action(async (opts: StartOptions, command: Command) => {
    await runStart(opts, settingsFrom(command));
  });
}

export async function runStart(opts: StartOptions, settings: Settings): Promise<void> {
  checkModes(opts);
  const files = readFiles(opts);
  const json = opts.json === true || !process.stdout.isTTY;
  const notices: string[] = [];
  if (opts.insecureUpstream) notices.push('WARNING: --insecure-upstream: the upstream server certificate is NOT verified.');

  const pipeline = new LivePipeline(settings);
  installLastResort((kind, message) => pipeline.error(kind, message));
  // The URLs as shown and recorded: credentials in them never leave the command line.
  const shown = {
    ...(opts.upstream ? { upstream: withoutCredentials(opts.upstream) } : {}),
    ...(opts.apnsUpstream ? { apnsUpstream: withoutCredentials(opts.apnsUpstream) } : {}),
  };
  const raw = opts as unknown as Record<string, unknown>;
  // The dashboard (TTY) or JSON lines; --plain keeps a terminal to one readable line per verdict.
  const presenter = opts.plain && !json ? undefined : await present(pipeline, {
    json,
    info: {
      mode: opts.upstream ? 'reverse proxy' : 'forward proxy',
      ...(shown.upstream ? { upstream: shown.upstream } : {}),
      ...(typeof raw.db === 'string' ? { captureFile: raw.db } : {}),
      pushGraceMs: settings.pushGraceMs,
      pushObservable: Boolean(files.apns),
    },
    ...(opts.clientCertHeader ? { clientCertHeader: opts.clientCertHeader } : {}),
  });
  if (!presenter) pipeline.addSink(consoleSink());
  const sinks = await openSinkModules(
    SINK_MODULES,
    raw,
    {
      analyzer: pipeline.analyzer,
      onError: (kind, message) => pipeline.error(kind, message),
      // Recorded for auditors; a URL's user:password never is.
      recordedOptions: { ...raw, ...shown },
      ...(opts.clientCertHeader ? { clientCertHeader: opts.clientCertHeader } : {}),
    },
    (sink) => pipeline.addSink(sink),
  );
  notices.push(...sinks.notices);

  let proxy: RunningProxy;
  try {
    proxy = await startProxy(proxyOptions(opts, files, pipeline));
  } catch (e) {
    presenter?.close();
    await sinks.close();
    throw new UserError((e as Error).message, 1);
  }
  pipeline.start();
  presenter?.setInfo({ listen: `${opts.host}:${proxy.port}`, caFingerprint: proxy.caFingerprint, ...(notices.length ? { note: notices.join(' ') } : {}) });
  const lines = [
    `mdmtap listening on ${opts.host}:${proxy.port} (${opts.upstream ? `reverse proxy to ${shown.upstream}` : `forward proxy, decrypting ${opts.mdmHost.join(', ')}`})`,
    `CA ${resolve(opts.certs)}/ca.pem  SHA-256 ${proxy.caFingerprint}  (devices: http://<this-host>:${proxy.port}/ca.mobileconfig)`,
    `clients: loopback, private and link-local addresses${opts.allowClient.length ? ` and ${opts.allowClient.join(', ')}` : ' only (--allow-client CIDR admits a public block)'}; at most ${opts.maxConnections} connections`,
    `${sinks.status.join('; ')}; push grace ${formatDuration(settings.pushGraceMs)}; ${files.apns ? `pushes observed (APNs interception${shown.apnsUpstream ? ` to ${shown.apnsUpstream}` : ''})` : 'pushes not observable (no --apns-cert)'}`,
    ...notices,
  ];
  await untilStopped(proxy, pipeline, presenter, lines);
}

/** One mode at a time, and only the options that mode uses. */
function checkModes(opts: StartOptions): void {
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
  if (Boolean(opts.apnsCert) !== Boolean(opts.apnsKey)) throw new UserError('--apns-cert and --apns-key go together: the push certificate and its private key (PEM)');
  if (opts.apnsUpstream) {
    try {
      new URL(opts.apnsUpstream);
    } catch {
      throw new UserError(`--apns-upstream: "${opts.apnsUpstream}" is not a URL`);
    }
  }
}

interface StartFiles {
  upstreamCa: string[];
  apns?: { cert: string; key: string; upstreamCa: string[] };
}

/** The PEM files the options name, read now so a missing one is a clear line before anything listens. */
function readFiles(opts: StartOptions): StartFiles {
  const read = (flag: string) => (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      throw new UserError(`${flag}: cannot read ${f}`);
    }
  };
  return {
    upstreamCa: opts.upstreamCa.map(read('--upstream-ca')),
    ...(opts.apnsCert && opts.apnsKey
      ? { apns: { cert: read('--apns-cert')(opts.apnsCert), key: read('--apns-key')(opts.apnsKey), upstreamCa: opts.apnsUpstreamCa.map(read('--apns-upstream-ca')) } }
      : {}),
  };
}

function proxyOptions(opts: StartOptions, files: StartFiles, pipeline: LivePipeline): ProxyOptions {
  return {
    host: opts.host,
    port: opts.port,
    mdmHosts: opts.mdmHost,
    upstream: opts.upstream,
    upstreamCa: files.upstreamCa,
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
    ...(files.apns
      ? {
          apns: {
            cert: files.apns.cert,
            key: files.apns.key,
            ...(opts.apnsUpstream ? { upstream: opts.apnsUpstream } : {}),
            upstreamCa: files.apns.upstreamCa,
            onPush: (p: PushSeen) => pipeline.push(p),
          },
        }
      : {}),
    onExchange: (ex) => pipeline.exchange(ex),
    onError: (e) => pipeline.error(e.kind, e.message),
  };
}

/**
 * Prints the listening lines and waits for a stop (a signal or `q`), then stops in order: the proxy drains the
 * exchanges in progress into the pipeline, which then judges what is due and flushes its sinks.
 */
async function untilStopped(proxy: RunningProxy, pipeline: LivePipeline, presenter: Presenter | undefined, lines: string[]): Promise<void> {
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
