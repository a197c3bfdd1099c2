/**
 * Prepared statements of the writer, and how each analyzer event updates the auditor's tables (sessions,
 * obligations, warnings, devices). Kept apart from the queueing in writer.ts: this is the SQL, that is the flow.
 */
import type Database from 'better-sqlite3';
import { hash as digest } from 'node:crypto';
import { RecentMap } from '../util/recent-map.js';
import type { AnalyzerEvent, Outcome, RuleId, WhoFields } from '../model/events.js';
import type { CheckinMessage, DeviceFacts, Identity, Platform, PushSeen } from '../model/message.js';
import { platformOf } from '../mdm/catalogue.js';
import type { RestoredState } from './writer-messages.js';
import { OBLIGATION_RULES } from '../analysis/registry.js';

export class Statements {
  readonly insertRun: Database.Statement;
  readonly stopRun: Database.Statement;
  readonly setMeta: Database.Statement;
  readonly initMeta: Database.Statement;
  readonly insertExchange: Database.Statement;
  readonly insertEvent: Database.Statement;
  private readonly sessionStart: Database.Statement;
  private readonly sessionEnd: Database.Statement;
  private readonly obligationOpen: Database.Statement;
  private readonly obligationUpdate: Database.Statement;
  private readonly obligationWarned: Database.Statement;
  private readonly warningInsert: Database.Statement;
  private readonly warningResolve: Database.Statement;
  private readonly pushInsert: Database.Statement;
  private readonly pushesAnswered: Database.Statement;
  private readonly deviceUpsert: Database.Statement;
  private readonly deviceCheckout: Database.Statement;
  private readonly declarationsClear: Database.Statement;
  private readonly bodyFind: Database.Statement;
  private readonly bodyInsert: Database.Statement;
  /** Recently stored bodies by hash: a repeated body costs a lookup in memory, not in the file. */
  private readonly bodyIds = new RecentMap<string, number | bigint>(4096);
  /**
   * The same, by the hash of the body as it arrived (and whether it was cut): redaction gives the same bytes for
   * the same input, so a body seen before is neither searched for secrets nor hashed a second time.
   */
  private readonly rawIds = new RecentMap<string, number | bigint>(4096);
  private readonly declarationUpsert: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.insertRun = db.prepare('INSERT INTO runs (started_at, mdmtap_version, options, keep_secrets) VALUES (?, ?, ?, ?)');
    this.stopRun = db.prepare('UPDATE runs SET stopped_at = ? WHERE id = ?');
    this.setMeta = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    this.initMeta = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
    this.insertExchange = db.prepare(`INSERT OR REPLACE INTO exchanges (id, connection_id, started_at, ended_at, ended_ms, host, method, path, endpoint,
      udid, channel, user_id, message_type, status, command_uuid, reply_command_uuid, request_type, http_status, error_kind, error_message,
      session_id, token_hash, token_prefix, push_magic_hash, request_headers, response_headers, request_body, response_body, request_size, response_size,
      request_truncated, response_truncated, bodies_dropped, request_scan, response_scan, user_short_name, message, request_body_ref,
      response_body_ref) VALUES (@id, @connection_id, @started_at,
      @ended_at, @ended_ms, @host, @method, @path, @endpoint, @udid, @channel, @user_id, @message_type, @status, @command_uuid, @reply_command_uuid,
      @request_type, @http_status, @error_kind, @error_message, @session_id, @token_hash, @token_prefix, @push_magic_hash, @request_headers,
      @response_headers, @request_body, @response_body, @request_size, @response_size, @request_truncated, @response_truncated, @bodies_dropped,
      @request_scan, @response_scan, @user_short_name, @message, @request_body_ref, @response_body_ref)`);
    this.insertEvent = db.prepare('INSERT INTO events (ts, type, json) VALUES (?, ?, ?)');
    this.sessionStart = db.prepare(`INSERT OR IGNORE INTO sessions (session_id, host, udid, channel, user_id, user_short_name, started_at,
      since_notnow_ms, since_push_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.sessionEnd = db.prepare(`UPDATE sessions SET ended_at = ?, outcome = ?, last_status = ?, reason = ?, detail = ?, notnow_commands = ?,
      outstanding = ?, exchanges = ?, user_configuration = ? WHERE session_id = ?`);
    this.pushesAnswered = db.prepare(`UPDATE pushes SET next_session_ms = ? - ts_ms WHERE next_session_ms IS NULL AND host IS ? AND udid = ?
      AND channel = ? AND user_id IS ? AND ts_ms <= ?`);
    this.obligationOpen = db.prepare(`INSERT OR REPLACE INTO obligations (session_id, host, udid, channel, user_id, opened_at, deadline, outcome,
      state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open')`);
    this.obligationUpdate = db.prepare('UPDATE obligations SET state = ?, discharged_at = ?, by = ? WHERE session_id = ?');
    this.obligationWarned = db.prepare(`UPDATE obligations SET state = 'warned', command_uuids = ? WHERE session_id = ? AND state IN ('open', 'pending')`);
    this.warningInsert = db.prepare(`INSERT INTO warnings (warning_id, rule, severity, session_id, host, udid, channel, user_id, command_uuids,
      message, detail, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.warningResolve = db.prepare('UPDATE warnings SET resolved_at = ?, resolved_by = ? WHERE warning_id = ? AND resolved_at IS NULL');
    this.bodyFind = db.prepare('SELECT id FROM bodies WHERE hash = ?');
    this.bodyInsert = db.prepare('INSERT INTO bodies (hash, size, data) VALUES (?, ?, ?)');
    this.declarationsClear = db.prepare(`DELETE FROM declarations WHERE host = ? AND udid = ? AND channel = ? AND user_id = ?`);
    this.declarationUpsert = db.prepare(`INSERT OR REPLACE INTO declarations (host, udid, channel, user_id, kind, identifier, server_token, active,
      valid, reasons, reported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.pushInsert = db.prepare(`INSERT INTO pushes (ts, ts_ms, host, udid, channel, user_id, token_hash, token_prefix, push_magic_hash,
      apns_status, reason, apns_expiration, apns_priority, apns_topic) SELECT ?, ?, d.host, d.udid, d.channel, NULLIF(d.user_id, ''), ?, ?, ?, ?, ?,
      ?, ?, ? FROM (SELECT 1) LEFT JOIN devices d ON d.token_hash = ? AND d.checked_out = 0`);
    this.deviceUpsert = db.prepare(`INSERT INTO devices (host, udid, channel, user_id, product_name, model, os_version, serial_number,
      device_name, platform, token_hash, token_prefix, push_magic_hash, first_seen, last_seen)
      VALUES (@host, @udid, @channel, @user_id, @product_name, @model, @os_version, @serial_number, @device_name, @platform, @token_hash,
      @token_prefix, @push_magic_hash, @ts, @ts)
      ON CONFLICT (host, udid, channel, user_id) DO UPDATE SET
        product_name = COALESCE(excluded.product_name, product_name), model = COALESCE(excluded.model, model),
        os_version = COALESCE(excluded.os_version, os_version), serial_number = COALESCE(excluded.serial_number, serial_number),
        device_name = COALESCE(excluded.device_name, device_name), platform = COALESCE(excluded.platform, platform),
        token_hash = COALESCE(excluded.token_hash, token_hash), token_prefix = COALESCE(excluded.token_prefix, token_prefix),
        push_magic_hash = COALESCE(excluded.push_magic_hash, push_magic_hash), last_seen = excluded.last_seen, checked_out = 0`);
    // The token stays: a restart must still recognise a push to a checked-out enrollment (NanoMDM sends them).
    this.deviceCheckout = db.prepare(`UPDATE devices SET checked_out = 1, last_seen = ? WHERE host = ? AND udid = ?`);
  }

  insertPush(p: PushSeen): void {
    this.pushInsert.run(
      new Date(p.ts).toISOString(), p.ts, p.tokenHash, p.tokenPrefix, p.pushMagicHash ?? null, p.apnsStatus, p.reason ?? null,
      p.apnsExpiration ?? null, p.apnsPriority ?? null, p.apnsTopic ?? null, p.tokenHash,
    );
  }

  upsertDeviceFromCheckin(msg: CheckinMessage): void {
    if (msg.messageType === 'CheckOut') {
      this.deviceCheckout.run(new Date(msg.ts).toISOString(), msg.host, msg.identity.udid);
      return;
    }
    this.upsertDevice(msg.host, msg.identity, msg.device, platformOf(msg.device), msg.ts, msg.tokenHash, msg.tokenPrefix, msg.pushMagicHash);
  }

  upsertDeviceFacts(host: string, id: Identity, facts: DeviceFacts, platform: Platform | undefined, ts: number): void {
    this.upsertDevice(host, id, facts, platform, ts);
  }

  private upsertDevice(
    host: string,
    id: Identity,
    f: DeviceFacts | undefined,
    platform: Platform | undefined,
    ts: number,
    tokenHash?: string,
    tokenPrefix?: string,
    pushMagicHash?: string,
  ): void {
    this.deviceUpsert.run({
      host,
      udid: id.udid,
      channel: id.channel,
      user_id: id.userId ?? '',
      product_name: f?.productName ?? null,
      model: f?.model ?? null,
      os_version: f?.osVersion ?? null,
      serial_number: f?.serialNumber ?? null,
      device_name: f?.deviceName ?? null,
      platform: platform ?? null,
      token_hash: tokenHash ?? null,
      token_prefix: tokenPrefix ?? null,
      push_magic_hash: pushMagicHash ?? null,
      ts: new Date(ts).toISOString(),
    });
  }

  /**
   * Where a body goes: an empty one stays in the row (so "no body" and "--no-bodies" keep their meaning); any other
   * is kept once in `bodies`, by the SHA-256 of its stored bytes — `stored(raw)`, the body as it may be written
   * (redacted) —, and the row refers to it.
   */
  body(raw: Buffer, cut: boolean, stored: (raw: Buffer) => Buffer): { inline: Buffer | null; ref: number | bigint | null } {
    if (raw.length === 0) return { inline: raw, ref: null };
    const rawHash = digest('sha256', raw, 'base64');
    const rawKey = cut ? `${rawHash}+cut` : rawHash;
    let id = this.rawIds.get(rawKey);
    if (id !== undefined) return { inline: null, ref: id };
    const bytes = stored(raw);
    const hash = bytes === raw ? rawHash : digest('sha256', bytes, 'base64');
    id = this.bodyIds.get(hash);
    if (id === undefined) {
      id = (this.bodyFind.get(hash) as { id: number } | undefined)?.id ?? this.bodyInsert.run(hash, bytes.length, bytes).lastInsertRowid;
      this.bodyIds.set(hash, id);
    }
    this.rawIds.set(rawKey, id);
    return { inline: null, ref: id };
  }

  forgetBodies(): void {
    this.bodyIds.clear();
    this.rawIds.clear();
  }

  applyEvent(ev: AnalyzerEvent): void {
    switch (ev.type) {
      case 'session': {
        // A session still open when a run stops stays without an end: the next run (or a replay) decides it.
        if (ev.event === 'pending') return;
        const start = ev.event === 'start';
        this.sessionStart.run(ev.sessionId, ev.host ?? null, ev.udid, ev.channel, ev.userId ?? null, ev.userShortName ?? null, ev.ts,
          start ? (ev.sinceNotNowMs ?? null) : null, start ? (ev.sincePushMs ?? null) : null);
        if (start) {
          // Every push still unanswered on the channel is answered by this session: how long it took is kept with it.
          const ms = Date.parse(ev.ts);
          this.pushesAnswered.run(ms, ev.host ?? null, ev.udid, ev.channel, ev.userId ?? null, ms);
        } else {
          this.sessionEnd.run(ev.ts, ev.outcome ?? null, ev.lastStatus ?? null, ev.reason ?? null, ev.detail ?? null, json(ev.notNowCommands),
            json(ev.outstanding), ev.exchanges ?? null, ev.userConfiguration ? 1 : 0, ev.sessionId);
        }
        return;
      }
      case 'obligation':
        if (ev.event === 'open') this.obligationOpen.run(ev.sessionId, ev.host ?? null, ev.udid, ev.channel, ev.userId ?? null, ev.ts, ev.deadline, ev.outcome ?? 'stranded');
        else if (ev.event === 'discharged') this.obligationUpdate.run('discharged', ev.ts, ev.by ?? null, ev.sessionId);
        // Pending: still owed when the run stopped; restored as open by the next run.
        else this.obligationUpdate.run('pending', null, null, ev.sessionId);
        return;
      case 'warning':
        this.warningInsert.run(ev.warningId, ev.rule, ev.severity, ev.sessionId ?? null, ev.host ?? null, ev.udid, ev.channel, ev.userId ?? null, json(ev.commandUUIDs), ev.message, json(ev.detail), ev.ts);
        if (ev.sessionId && OBLIGATION_RULES.includes(ev.rule)) this.obligationWarned.run(json(ev.commandUUIDs), ev.sessionId);
        return;
      case 'resolved':
        this.warningResolve.run(ev.ts, ev.by, ev.warningId);
        return;
      case 'ddm': {
        if (ev.event !== 'status' || !ev.declarations) return;
        const who = [ev.host ?? '', ev.udid, ev.channel, ev.userId ?? ''] as const;
        if (ev.full) this.declarationsClear.run(...who);
        for (const d of ev.declarations) {
          this.declarationUpsert.run(...who, d.kind, d.identifier, d.serverToken ?? null, d.active === undefined ? null : d.active ? 1 : 0, d.valid ?? null, json(d.reasons), ev.ts);
        }
        return;
      }
      default:
        return;
    }
  }

  loadState(): RestoredState {
    const who = (r: { host: string | null; udid: string; channel: string; user_id: string | null; user_short_name?: string | null }): WhoFields => ({
      udid: r.udid,
      channel: r.channel as WhoFields['channel'],
      ...(r.user_id ? { userId: r.user_id } : {}),
      ...(r.user_short_name ? { userShortName: r.user_short_name } : {}),
      ...(r.host ? { host: r.host } : {}),
    });
    // A Shared iPad user's short name is kept with the session an obligation or warning came from.
    const shortName = (alias: string) => `(SELECT user_short_name FROM sessions s WHERE s.session_id = ${alias}.session_id) AS user_short_name`;
    type Row = { host: string | null; udid: string; channel: string; user_id: string | null };
    // Checked-out enrollments first: a token an enrolled channel holds now is that channel's, whatever it was before.
    const tokens = (this.db.prepare('SELECT host, udid, channel, user_id, token_hash, push_magic_hash, checked_out FROM devices WHERE token_hash IS NOT NULL ORDER BY checked_out DESC').all() as Array<Row & { token_hash: string; push_magic_hash: string | null; checked_out: number }>).map((r) => ({
      tokenHash: r.token_hash,
      who: who(r),
      ...(r.push_magic_hash ? { pushMagicHash: r.push_magic_hash } : {}),
      ...(r.checked_out ? { checkedOut: true } : {}),
    }));
    const obligations = (this.db.prepare(`SELECT o.*, (SELECT coalesce(outstanding, notnow_commands) FROM sessions s WHERE s.session_id = o.session_id) AS notnow, ${shortName('o')} FROM obligations o WHERE state IN ('open', 'pending')`).all() as Array<Row & { session_id: string; opened_at: string; deadline: string; outcome: string; notnow: string | null }>).map((r) => ({
      sessionId: r.session_id,
      who: who(r),
      openedAt: Date.parse(r.opened_at),
      deadline: Date.parse(r.deadline),
      outcome: r.outcome as Outcome,
      commandUUIDs: r.notnow ? (JSON.parse(r.notnow) as string[]) : [],
    }));
    const warnings = (this.db.prepare(`SELECT warning_id, rule, session_id, host, udid, channel, user_id, ${shortName('warnings')} FROM warnings WHERE resolved_at IS NULL AND session_id IS NOT NULL AND rule IN (${OBLIGATION_RULES.map(() => '?').join(', ')})`).all(...OBLIGATION_RULES) as Array<Row & { rule: string; session_id: string; warning_id: string | null }>).map((r) => ({
      rule: r.rule as RuleId,
      sessionId: r.session_id,
      who: who(r),
      ...(r.warning_id ? { warningId: r.warning_id } : {}),
    }));
    return { tokens, obligations, warnings };
  }
}

function json(v: unknown): string | null {
  return v === undefined ? null : JSON.stringify(v);
}
