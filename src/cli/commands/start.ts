/** `mdmtap [start]`: the live proxy between devices and an MDM server, with live analysis and capture. */
import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { PushSeen } from '../../model/message.js';
import { resolve } from 'node:path';
import { DEFAULT_BODY_BUDGET, DEFAULT_MAX_CONNECTIONS, startProxy, type ProxyOptions, type RunningProxy } from '../../proxy/proxy.js';
import { SetupError } from '../../proxy/errors.js';
import { keepRunningWhenStdoutCloses } from '../stdout.js';
import { DEFAULT_TIMEOUTS } from '../../proxy/timeouts.js';
import type { CaKeyType } from '../../proxy/ca.js';
import { installLastResort } from '../last-resort.js';
import { LivePipeline } from '../../live/pipeline.js';
import { present, type Presenter } from '../present.js';
import { consoleSink } from '../../sinks/console.js';
import { jsonlSink } from '../../sinks/jsonl.js';
import { openSinkModules, SINK_MODULES } from '../../sinks/index.js';
import { caKeyTypeOption, cidrOption, collect, countOption, durationFlag, portOption, sizeFlag } from '../options.js';
import { UserError } from '../errors.js';
import { DEFAULT_CERTS, DEFAULT_MAX_BODY, DEFAULT_PORT } from '../defaults.js';
import { formatDuration } from '../../util/duration.js';
import { addSettingOptions, settingsFrom } from '../setting-options.js';
import type { Settings } from '../../analysis/settings.js';
import { parseHostPort } from '../../proxy/hosts.js';

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
  tunnelTimeout: number;
  caKeyType: CaKeyType;
}

export function registerStart(program: Command): void {
  const cmd = program
    .command('start', { isDefault: true })
    .description('run the proxy (the default command)')
    .option('--port <port>', 'port to listen on', portOption, DEFAULT_PORT)
    .option('--host <address>', 'address to bind', '0.0.0.0')
    .option('--mdm-host <host[:port]>', 'forward mode: an MDM host to decrypt (repeatable); every other CONNECT is tunnelled untouched', collect, [])
    .addOption(new Option('--upstream <url>', 'reverse mode: devices talk to mdmtap, which forwards to this MDM server URL').conflicts('mdmHost'))
    .option('--upstream-ca <file>', 'extra CA certificate (PEM) to trust for the upstream (repeatable)', collect, [])
    .option('--insecure-upstream', 'do not verify the upstream certificate (warned on every start)')
    .option('--client-cert-header <name>', "forward the device's TLS client certificate to the upstream in this header, as :base64-DER:")
    .addOption(new Option('--json', 'headless: print events as JSON lines on stdout (the default when stdout is not a terminal)').conflicts('plain'))
    .option('--plain', 'on a terminal: one readable line per session outcome and warning instead of the dashboard')
    .option('--certs <dir>', 'where the mdmtap CA lives', DEFAULT_CERTS)
    .option('--apns-cert <file>', "the MDM push certificate (PEM): lets mdmtap re-originate the server's APNs connection and see every push")
    .option('--apns-key <file>', 'the private key of the push certificate (PEM)')
    .option('--apns-upstream <url>', "send intercepted pushes to this APNs instead of Apple's (a lab or test APNs)")
    .option('--apns-upstream-ca <file>', 'extra CA (PEM) to trust for --apns-upstream (repeatable)', collect, [])
    .addOption(sizeFlag('--max-body <size>', 'bytes of each body kept for analysis and capture', DEFAULT_MAX_BODY))
    .addOption(sizeFlag('--body-budget <size>', 'bytes of body copies held for analysis at once, all exchanges together; past it bodies are forwarded but not copied', DEFAULT_BODY_BUDGET))
    .option('--allow-client <cidr>', 'let clients from this public address block in (repeatable); private, loopback and link-local clients always may', cidrOption, [])
    .option('--server-name <name>', 'reverse mode: a name devices use to reach mdmtap, put in its certificate (repeatable)', collect, [])
    .option('--max-connections <n>', 'device connections at once; more are closed on arrival', countOption('--max-connections'), DEFAULT_MAX_CONNECTIONS)
    .addOption(durationFlag('--handshake-timeout <duration>', 'a device must complete its TLS handshake within this', DEFAULT_TIMEOUTS.handshakeMs, 1))
    .addOption(durationFlag('--header-timeout <duration>', "a request's headers must arrive within this of its first byte (and a new connection's first request)", DEFAULT_TIMEOUTS.headersMs, 1))
    .addOption(durationFlag('--request-timeout <duration>', 'a whole request, body included, must arrive within this of its first byte', DEFAULT_TIMEOUTS.requestMs, 1))
    .addOption(durationFlag('--idle-timeout <duration>', 'a kept-alive device connection with no new request is closed after this', DEFAULT_TIMEOUTS.idleMs, 1))
    .addOption(durationFlag('--upstream-timeout <duration>', 'give up on the server after this long without a byte either way', DEFAULT_TIMEOUTS.upstreamMs, 1))
    .addOption(durationFlag('--tunnel-timeout <duration>', 'a tunnelled (not decrypted) CONNECT, or an intercepted APNs connection, with no byte either way this long is closed', DEFAULT_TIMEOUTS.tunnelMs, 1))
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
  if (json) keepRunningWhenStdoutCloses();
  // Security-relevant: printed before anything else, and kept on a line of its own in the dashboard.
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
  // Sinks first: a capture that cannot be opened stops the start before a port is taken or a screen drawn.
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
  notices.push(...sinks.notices.filter((n) => n.startsWith('WARNING')));
  const infoLines = sinks.notices.filter((n) => !n.startsWith('WARNING'));
  if (notices.length) process.stderr.write(notices.join('\n') + '\n');
  // JSON lines (or --plain's lines) are attached before the stream starts: its first line says what it is judged with.
  if (json) pipeline.addSink(jsonlSink());
  else if (opts.plain) pipeline.addSink(consoleSink());
  pipeline.start();

  let proxy: RunningProxy;
  try {
    proxy = await startProxy(proxyOptions(opts, files, pipeline));
  } catch (e) {
    await pipeline.close();
    throw new UserError((e as Error).message, e instanceof SetupError ? 2 : 1);
  }
  const lines = [
    `mdmtap listening on ${opts.host}:${proxy.port} (${opts.upstream ? `reverse proxy to ${shown.upstream}` : `forward proxy, decrypting ${opts.mdmHost.join(', ')}`})`,
    `CA ${resolve(opts.certs)}/ca.pem  SHA-256 ${proxy.caFingerprint}  (devices: http://<this-host>:${proxy.port}/ca.mobileconfig)`,
    `clients: loopback, private and link-local addresses${opts.allowClient.length ? ` and ${opts.allowClient.join(', ')}` : ' only (--allow-client CIDR admits a public block)'}; at most ${opts.maxConnections} connections`,
    `${sinks.status.join('; ')}; push grace ${formatDuration(settings.pushGraceMs)}; ${files.apns ? `pushes observed (APNs interception${shown.apnsUpstream ? ` to ${shown.apnsUpstream}` : ''})` : 'pushes not observable (no --apns-cert)'}`,
    ...infoLines,
  ];
  const stop = armStop(proxy, pipeline);
  // The lines go to stderr before the dashboard takes the screen, so they stay in the terminal's scrollback.
  process.stderr.write(lines.join('\n') + '\n');
  // On a terminal, the dashboard (unless --plain).
  if (!json && !opts.plain) {
    const presenter = await present(pipeline, {
      json: false,
      info: {
        mode: opts.upstream ? 'reverse proxy' : 'forward proxy',
        listen: `${opts.host}:${proxy.port}`,
        caFingerprint: proxy.caFingerprint,
        ...(shown.upstream ? { upstream: shown.upstream } : {}),
        ...(typeof raw.db === 'string' ? { captureFile: raw.db } : {}),
        pushGraceMs: settings.pushGraceMs,
        pushObservable: Boolean(files.apns),
        ...(notices.length ? { notices } : {}),
        ...(infoLines.length ? { note: infoLines.join(' ') } : {}),
      },
      ...(opts.clientCertHeader ? { clientCertHeader: opts.clientCertHeader } : {}),
    });
    stop.presenter = presenter;
    // A signal that came while the dashboard was loading has stopped the rest already.
    if (stop.closing()) presenter.close();
    void presenter.quit.then(stop.stop);
  }
  await stop.stopped;
}

/** One mode at a time, and only the options that mode uses. */
function checkModes(opts: StartOptions): void {
  if (opts.mdmHost.length === 0 && !opts.upstream) {
    throw new UserError(
      'nothing to intercept: pass --mdm-host HOST[:PORT] (devices use mdmtap as their HTTP proxy) or --upstream URL (devices talk to mdmtap directly); see mdmtap start --help',
      2,
    );
  }
  if (opts.serverName.length && !opts.upstream) throw new UserError('--server-name is for reverse mode (--upstream)', 2);
  for (const h of opts.mdmHost) {
    let hp;
    try {
      hp = parseHostPort(h);
    } catch (e) {
      throw new UserError(`--mdm-host: ${(e as Error).message}`);
    }
    // A name or an address, nothing a CONNECT line could not carry.
    if (!/^[a-z0-9.\-_:%]+$/i.test(hp.host)) throw new UserError(`--mdm-host: "${h}" is not a host name or address`);
  }
  // A header name is an HTTP token (RFC 9110 §5.1): anything else would make every forwarded request unsendable.
  if (opts.clientCertHeader !== undefined && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(opts.clientCertHeader)) {
    throw new UserError(`--client-cert-header: "${opts.clientCertHeader}" is not a header name (letters, digits and - _ . and the like, no spaces)`);
  }
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
      tunnelMs: opts.tunnelTimeout,
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
 * The stop, armed before the "listening" line is printed (whoever reads it may stop us at once): on a signal or
 * `q`, the proxy drains the exchanges in progress into the pipeline, which then judges what is due and flushes
 * its sinks.
 */
interface Stop {
  stopped: Promise<void>;
  stop(): void;
  closing(): boolean;
  presenter?: Presenter;
}

function armStop(proxy: RunningProxy, pipeline: LivePipeline): Stop {
  // For `npm run bench`: how long the event loop stalled and the peak memory, printed on exit.
  const loop = process.env.MDMTAP_STATS ? monitorEventLoopDelay({ resolution: 2 }) : undefined;
  loop?.enable();
  // MDMTAP_STATS=ms: the figures start afresh that long after start, so the bench's warm-up (first connections,
  // code still compiling) is not counted as the steady state it reports. '1' (bench:hardening) only turns them on.
  const warmUpMs = Number(process.env.MDMTAP_STATS);
  if (loop && warmUpMs > 1) setTimeout(() => loop.reset(), warmUpMs).unref();
  let closing = false;
  let done!: () => void;
  const handle: Stop = {
    stopped: new Promise<void>((r) => (done = r)),
    closing: () => closing,
    stop: () => {
      if (closing) return;
      closing = true;
      void (async () => {
        handle.presenter?.close();
        await proxy.close();
        await pipeline.close();
        if (loop) {
          loop.disable();
          process.stderr.write(`mdmtap-stats ${JSON.stringify({ maxEventLoopDelayMs: loop.max / 1e6, p99EventLoopDelayMs: loop.percentile(99) / 1e6, maxRssMB: process.resourceUsage().maxRSS / 1024, cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6 })}\n`);
        }
        done();
      })();
    },
  };
  // `on`, not `once`: Ink's signal-exit re-raises a signal when it finds no listener but its own, and a `once`
  // listener has already removed itself by then — the dashboard's run was killed instead of stopped (found in
  // review). A repeated signal finds the stop under way (it is bounded: exchanges get 5 s).
  process.on('SIGINT', handle.stop);
  process.on('SIGTERM', handle.stop);
  void handle.stopped.then(() => {
    process.off('SIGINT', handle.stop);
    process.off('SIGTERM', handle.stop);
  });
  return handle;
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
