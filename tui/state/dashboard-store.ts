/**
 * The dashboard's state, kept outside React: analyzer events and decoded exchanges go in at wire speed; the UI
 * gets immutable snapshots at most 10 times a second (one unref'd timer, built only when something changed or a
 * countdown needs to move). Everything is bounded, so a fleet of 10,000 devices or a day of traffic stays cheap.
 */
import type { AnalyzerEvent, DischargeBy, Outcome, RuleId, Severity } from '../../src/model/events.js';
import type { Exchange } from '../../src/model/exchange.js';
import type { MdmMessage, Platform } from '../../src/model/message.js';
import type { PlistValue } from '../../src/plist/value.js';
import { redactHeaders, redactPath, redactPlist } from '../../src/mdm/redact.js';
import { decodePlist } from '../../src/plist/decode.js';
import { commandInfo, platformOf, supportSummary, unsupportedOn } from '../../src/mdm/catalogue.js';
import { Fleet, channelKey, type ChannelState, type FleetCounters } from '../../src/analysis/fleet.js';
import { RecentMap } from '../../src/util/recent-map.js';
import { keptBody } from '../../src/model/sole-copy.js';
import { printableDeep } from '../../src/util/printable.js';
import { describeDdm } from '../../src/analysis/ddm-text.js';

export interface TimelineEntry {
  /** Increasing in the order entries were added: what a selection holds on to while old entries age out. */
  seq?: number;
  ts: number;
  kind: 'exchange' | 'session' | 'obligation' | 'warning' | 'resolved' | 'push' | 'ddm';
  text: string;
  exchangeId?: string;
  tone?: 'notnow' | 'warning' | 'owed' | 'resolved' | 'dim';
}

/** A channel as the fleet model has it, with what its exchanges said about the hardware. */
export interface DeviceRow extends ChannelState {
  model?: string;
  osVersion?: string;
}

export interface WarningRow {
  id: number;
  warningId: string;
  rule: RuleId;
  severity: Severity;
  udid: string;
  channel: 'device' | 'user';
  userId?: string;
  deviceKey: string;
  sessionId?: string;
  host?: string;
  commandUUIDs?: string[];
  detail?: Record<string, string | number | boolean | string[]>;
  message: string;
  ts: number;
  resolved?: { by: DischargeBy; ts: number };
}

export interface LogLine {
  ts: number;
  exchangeId: string;
  deviceKey: string;
  udid: string;
  channel: 'device' | 'user';
  endpoint: 'command' | 'checkin';
  /** Status (command channel) or MessageType (check-in). */
  what: string;
  requestType?: string;
  answers?: string;
  reply?: string;
  httpStatus: number;
}

export interface ExchangeDetail {
  exchangeId: string;
  ts: number;
  method: string;
  host: string;
  path: string;
  httpStatus: number;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
  request?: PlistValue;
  response?: PlistValue;
  note?: string;
  /** The command the server replied with, and what Apple's schema says about it. */
  command?: CommandFacts;
}

export interface CommandFacts {
  requestType: string;
  title?: string;
  /** Where Apple supports it ("iOS 4.0+, macOS 10.7+ (device channel)"). */
  support?: string;
  /** Set when Apple's schema says it cannot run on this device's platform or channel. */
  unsupported?: string;
}

/** What the store keeps per exchange until someone opens it. */
interface KeptDetail extends Omit<ExchangeDetail, 'request' | 'response' | 'command'> {
  requestBody?: Uint8Array;
  responseBody?: Uint8Array;
  bytes: number;
  sent?: { requestType: string; platform?: Platform; channel: 'device' | 'user' };
}

export interface DashboardInfo {
  mode: string;
  listen?: string;
  upstream?: string;
  captureFile?: string;
  caFingerprint?: string;
  pushGraceMs: number;
  pushObservable: boolean;
  /** The latest error event, in one line. */
  note?: string;
  /** What a person must not miss (security options in force, a capture that cannot be written): a line each. */
  notices?: string[];
  /** A capture opened with `mdmtap view`: nothing live to rate or pause. */
  readOnly?: boolean;
  /** Read-only, and a proxy is still writing the capture: new rows are followed. */
  following?: boolean;
}

export type Counters = FleetCounters;

export interface Snapshot {
  now: number;
  info: DashboardInfo;
  counters: Counters;
  /** Exchanges per second over the last 30 seconds, oldest first. */
  rate: number[];
  devices: readonly DeviceRow[];
  warnings: readonly WarningRow[];
  log: readonly LogLine[];
  version: number;
}

const MAX_LOG = 2000;
const MAX_WARNINGS = 500;
const MAX_DETAILS = 2000;
/** Raw bodies kept for the detail view, in total: the oldest exchanges lose their bodies first. */
const MAX_DETAIL_BYTES = 64 * 1024 * 1024;
const MAX_TIMELINE = 300;
const RATE_SECONDS = 30;
const MAX_FACTS = 200_000;
const CAPTURE_NOTICE = 'capture: ';

export interface StoreOptions {
  now?: () => number;
  /** Snapshot rate limit (ms between snapshots); 100 = 10 Hz. */
  intervalMs?: number;
  clientCertHeader?: string;
}

export class DashboardStore {
  private info: DashboardInfo = { mode: '', pushGraceMs: 120_000, pushObservable: false };
  /** The one state model (src/analysis/fleet.ts); this store only indexes it for display. */
  private readonly fleet = new Fleet();
  /** Model, OS version and platform per channel, from the exchanges' bodies (events do not carry them). */
  private readonly facts = new RecentMap<string, { model?: string; osVersion?: string; platform?: string }>(MAX_FACTS);
  private readonly timelines = new Map<string, TimelineEntry[]>();
  private readonly details = new Map<string, KeptDetail>();
  private detailBytes = 0;
  private lastDetail: ExchangeDetail | undefined;
  private warnings: WarningRow[] = [];
  private log: LogLine[] = [];
  private readonly rateBuckets = new Map<number, number>();
  private warningSeq = 0;
  private dirty = true;
  private version = 0;
  private snapshot?: Snapshot;
  private readonly listeners = new Set<(s: Snapshot) => void>();
  private timer?: NodeJS.Timeout;
  private lastEmit = 0;
  readonly now: () => number;

  constructor(private readonly opts: StoreOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  setInfo(info: Partial<DashboardInfo>): void {
    this.info = { ...this.info, ...info };
    this.touch();
  }

  ingest(ev: AnalyzerEvent): void {
    const ts = Date.parse(ev.ts);
    const c = this.fleet.apply(ev);
    switch (ev.type) {
      case 'exchange': {
        const sec = Math.floor(ts / 1000);
        this.rateBuckets.set(sec, (this.rateBuckets.get(sec) ?? 0) + 1);
        if (this.rateBuckets.size > RATE_SECONDS * 2) {
          for (const k of this.rateBuckets.keys()) if (k < sec - RATE_SECONDS) this.rateBuckets.delete(k);
        }
        if (ev.requestType) {
          const kept = this.details.get(ev.exchangeId);
          const platform = (c?.platform ?? this.facts.get(c!.key)?.platform) as Platform | undefined;
          if (kept) kept.sent = { requestType: ev.requestType, channel: ev.channel, ...(platform ? { platform } : {}) };
        }
        const what = ev.endpoint === 'command' ? (ev.status ?? '?') : (ev.messageType ?? '?');
        const line: LogLine = {
          ts, exchangeId: ev.exchangeId, deviceKey: c!.key, udid: ev.udid, channel: ev.channel, endpoint: ev.endpoint, what, httpStatus: ev.httpStatus,
          ...(ev.requestType ? { requestType: ev.requestType } : {}),
          ...(ev.answersRequestType ? { answers: ev.answersRequestType } : {}),
          ...(ev.reply ? { reply: ev.reply } : {}),
        };
        this.log.push(line);
        if (this.log.length > MAX_LOG * 1.5) this.log = this.log.slice(-MAX_LOG);
        this.timeline(c!.key, {
          ts, kind: 'exchange', exchangeId: ev.exchangeId,
          text: `${what}${ev.answersRequestType ? ` (${ev.answersRequestType})` : ''} → ${replyText(line)}`,
          ...(ev.status === 'NotNow' ? { tone: 'notnow' as const } : {}),
        });
        break;
      }
      case 'session': {
        if (ev.event === 'start') this.timeline(c!.key, { ts, kind: 'session', text: `session ${ev.sessionId} started`, tone: 'dim' });
        else if (ev.event === 'end') {
          this.timeline(c!.key, { ts, kind: 'session', text: `session ended ${describeOutcome(ev.outcome)}${ev.reason ? ` (${ev.detail ?? ev.reason})` : ''}`, ...(ev.outcome === 'stranded' || ev.outcome === 'interrupted' ? { tone: 'owed' as const } : ev.outcome === 'ended-on-notnow' ? { tone: 'notnow' as const } : {}) });
        }
        break;
      }
      case 'obligation': {
        if (ev.event === 'open') this.timeline(c!.key, { ts, kind: 'obligation', text: `push owed by ${ev.deadline.slice(11, 19)}`, tone: 'owed' });
        else if (ev.event === 'discharged') this.timeline(c!.key, { ts, kind: 'obligation', text: `push obligation met (${ev.by})`, tone: 'resolved' });
        break;
      }
      case 'warning': {
        this.warnings.push({
          id: ++this.warningSeq, warningId: ev.warningId, rule: ev.rule, severity: ev.severity, udid: ev.udid, channel: ev.channel, deviceKey: c!.key, message: ev.message, ts,
          ...(ev.userId ? { userId: ev.userId } : {}),
          ...(ev.sessionId ? { sessionId: ev.sessionId } : {}),
          ...(ev.host ? { host: ev.host } : {}),
          ...(ev.commandUUIDs ? { commandUUIDs: ev.commandUUIDs } : {}),
          ...(ev.detail ? { detail: ev.detail } : {}),
        });
        if (this.warnings.length > MAX_WARNINGS) this.warnings = this.warnings.slice(-MAX_WARNINGS);
        this.timeline(c!.key, { ts, kind: 'warning', text: `${ev.severity === 'warning' ? 'WARNING' : 'info'} ${ev.rule}: ${ev.message}`, tone: ev.severity === 'warning' ? 'warning' : 'dim' });
        break;
      }
      case 'resolved': {
        for (const w of this.warnings) if (w.warningId === ev.warningId && !w.resolved) w.resolved = { by: ev.by, ts };
        this.timeline(c!.key, { ts, kind: 'resolved', text: `${ev.rule} resolved (${ev.by})`, tone: 'resolved' });
        break;
      }
      case 'push': {
        if (c) this.timeline(c.key, { ts, kind: 'push', text: `push ${ev.tokenHex ?? ''} → APNs ${ev.apnsStatus}${ev.reason ? ` ${ev.reason}` : ''}`, tone: ev.apnsStatus === 200 ? 'resolved' : 'warning' });
        break;
      }
      case 'ddm': {
        const invalid = ev.declarations?.some((d) => d.valid === 'invalid') || ev.malformed !== undefined || ev.notFound === true;
        this.timeline(c!.key, { ts, kind: 'ddm', exchangeId: ev.exchangeId, text: describeDdm(ev), ...(invalid ? { tone: 'warning' as const } : {}) });
        break;
      }
      case 'error':
        this.info = { ...this.info, note: `${ev.kind}: ${ev.message}` };
        // The capture failing is what an auditor must not miss: it stays on a line of its own (the latest).
        if (ev.kind === 'store' || ev.kind === 'store-backlog') {
          this.info.notices = [...(this.info.notices ?? []).filter((n) => !n.startsWith(CAPTURE_NOTICE)), `${CAPTURE_NOTICE}${ev.message}`];
        }
        break;
    }
    this.touch();
  }

  /**
   * Headers (redacted on the way in) and raw bodies for the detail view. Bodies are decoded and redacted only when
   * someone opens the exchange: decoding every 1 MB InstalledApplicationList as it passes would cost the proxy's
   * event loop for a view that is rarely looked at.
   */
  ingestExchange(ex: Exchange, msg: MdmMessage | undefined): void {
    const extra = this.opts.clientCertHeader ? [this.opts.clientCertHeader] : [];
    const detail: KeptDetail = {
      exchangeId: ex.id, ts: ex.endedAt, method: ex.method, host: ex.host, path: redactPath(ex.path), httpStatus: ex.status,
      requestHeaders: redactHeaders(ex.requestHeaders, extra), responseHeaders: redactHeaders(ex.responseHeaders, extra),
      bytes: 0,
    };
    if (msg && msg.endpoint !== 'malformed') {
      // Kept past this call: the capture writer may take the proxy's own copy of a large body (see sole-copy.ts).
      if (ex.requestBody.length && !ex.requestTruncated) detail.requestBody = keptBody(ex.requestBody);
      if (ex.responseBody.length && !ex.responseTruncated && ex.status === 200) detail.responseBody = keptBody(ex.responseBody);
      detail.bytes = (detail.requestBody?.length ?? 0) + (detail.responseBody?.length ?? 0);
    }
    if (msg?.endpoint === 'malformed') detail.note = `undecodable ${msg.side} body: ${msg.reason}`;
    if (ex.error) detail.note = `${ex.error.kind}: ${ex.error.message}`;
    this.details.set(ex.id, detail);
    this.detailBytes += detail.bytes;
    for (const [id, old] of this.details) {
      if (this.details.size <= MAX_DETAILS && this.detailBytes <= MAX_DETAIL_BYTES) break;
      if (this.details.size > MAX_DETAILS) this.details.delete(id);
      else {
        delete old.requestBody;
        delete old.responseBody;
        old.note ??= 'bodies dropped from memory (see the capture file)';
      }
      this.detailBytes -= old.bytes;
      old.bytes = 0;
    }
    if (msg && 'device' in msg && msg.device && 'identity' in msg && msg.identity) {
      // Exchanges arrive before their events: the channel may not be in the fleet yet.
      const key = channelKey({ host: msg.host, udid: msg.identity.udid, channel: msg.identity.channel, userId: msg.identity.userId });
      const f = this.facts.get(key) ?? {};
      const model = msg.device.productName ?? msg.device.model ?? f.model;
      const osVersion = msg.device.osVersion ?? f.osVersion;
      const platform = platformOf(msg.device) ?? f.platform;
      this.facts.set(key, { ...(model ? { model } : {}), ...(osVersion ? { osVersion } : {}), ...(platform ? { platform } : {}) });
      this.touch();
    }
  }

  detail(exchangeId: string): ExchangeDetail | undefined {
    if (this.lastDetail?.exchangeId === exchangeId) return this.lastDetail;
    const kept = this.details.get(exchangeId);
    if (!kept) return undefined;
    const { requestBody, responseBody, bytes: _bytes, sent, ...detail } = kept;
    const view: ExchangeDetail = detail;
    if (sent) view.command = commandFacts(sent.requestType, sent.platform, sent.channel);
    const open = (b: Uint8Array | undefined) => {
      const r = b ? decodePlist(b) : undefined;
      return r?.ok ? printableDeep(redactPlist(r.value)) : undefined;
    };
    const request = open(requestBody);
    const response = open(responseBody);
    if (request !== undefined) view.request = request;
    if (response !== undefined) view.response = response;
    return (this.lastDetail = view);
  }

  timelineOf(deviceKey: string): readonly TimelineEntry[] {
    return this.timelines.get(deviceKey) ?? [];
  }

  subscribe(fn: (s: Snapshot) => void): () => void {
    this.listeners.add(fn);
    fn(this.getSnapshot());
    this.arm();
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** The current snapshot, built only when something changed since the last one. */
  getSnapshot(): Snapshot {
    if (!this.snapshot || this.dirty) {
      this.dirty = false;
      const now = this.now();
      const sec = Math.floor(now / 1000);
      const rate: number[] = [];
      for (let s = sec - RATE_SECONDS + 1; s <= sec; s++) rate.push(this.rateBuckets.get(s) ?? 0);
      this.snapshot = {
        now,
        info: this.info,
        counters: this.fleet.counters(),
        rate,
        devices: [...this.fleet.all()].map((c) => this.row(c)),
        warnings: this.warnings.map((w) => ({ ...w })),
        log: this.log.slice(-MAX_LOG),
        version: ++this.version,
      };
    }
    return this.snapshot;
  }

  /** Tests: deliver a snapshot now instead of waiting for the timer. */
  flushNow(): void {
    this.emit(true);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.emit(false), this.opts.intervalMs ?? 100);
    this.timer.unref();
  }

  private emit(force: boolean): void {
    const now = this.now();
    // Countdowns move once a second even when no traffic arrives.
    if (!force && !this.dirty && now - this.lastEmit < 1000) return;
    this.lastEmit = now;
    if (!this.dirty) this.dirty = true;
    const s = this.getSnapshot();
    for (const fn of this.listeners) fn(s);
  }

  private touch(): void {
    this.dirty = true;
  }

  private row(c: ChannelState): DeviceRow {
    const f = this.facts.get(c.key);
    const row: DeviceRow = Fleet.view(c);
    if (f?.model) row.model = f.model;
    if (f?.osVersion) row.osVersion = f.osVersion;
    if (!row.platform && f?.platform) row.platform = f.platform;
    return row;
  }

  private timelineSeq = 0;

  private timeline(key: string, e: TimelineEntry): void {
    let t = this.timelines.get(key);
    if (!t) this.timelines.set(key, (t = []));
    e.seq = ++this.timelineSeq;
    t.push(e);
    if (t.length > MAX_TIMELINE) t.splice(0, t.length - MAX_TIMELINE);
  }
}

/** A command's title and Apple's support for it, for the detail view. */
export function commandFacts(requestType: string, platform: Platform | undefined, channel: 'device' | 'user'): CommandFacts {
  const info = commandInfo(requestType);
  if (!info) return { requestType };
  const unsupported = unsupportedOn(requestType, platform, channel);
  return { requestType, title: info.title, support: supportSummary(info), ...(unsupported ? { unsupported } : {}) };
}

function replyText(l: LogLine): string {
  if (l.reply === 'command') return l.requestType ?? 'command';
  if (l.reply === 'end') return 'end (empty reply)';
  if (l.reply === 'http-error') return `HTTP ${l.httpStatus}`;
  if (l.reply === 'failed') return 'no response';
  if (l.reply === 'invalid') return 'invalid reply';
  return `HTTP ${l.httpStatus}`;
}

function describeOutcome(o: Outcome | undefined): string {
  return o === 'ended-on-notnow'
    ? 'on NotNow (device will poll)'
    : o === 'recovered'
      ? 'recovered (refused, then completed)'
      : o === 'stranded'
        ? 'STRANDED (push owed)'
        : o === 'interrupted'
          ? 'interrupted'
          : 'clean';
}

export { replyText };
