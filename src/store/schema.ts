/**
 * The capture file's schema, as migrations keyed by `pragma user_version`: opening a file written by an older
 * mdmtap brings it up to date, step by step, inside one transaction per step.
 */
import type Database from 'better-sqlite3';

const MIGRATIONS: string[] = [
  // 1: everything an auditor needs: what crossed the wire, what it meant, and what the analyzer concluded.
  `
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    stopped_at TEXT,
    mdmtap_version TEXT NOT NULL,
    options TEXT NOT NULL,
    keep_secrets INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE exchanges (
    id TEXT PRIMARY KEY,
    connection_id TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    ended_ms INTEGER NOT NULL,
    host TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    endpoint TEXT,
    udid TEXT,
    channel TEXT,
    user_id TEXT,
    message_type TEXT,
    status TEXT,
    command_uuid TEXT,
    reply_command_uuid TEXT,
    request_type TEXT,
    http_status INTEGER NOT NULL,
    error_kind TEXT,
    error_message TEXT,
    session_id TEXT,
    token_hash TEXT,
    token_prefix TEXT,
    push_magic_hash TEXT,
    request_headers TEXT NOT NULL,
    response_headers TEXT NOT NULL,
    request_body BLOB,
    response_body BLOB,
    request_size INTEGER,
    response_size INTEGER,
    request_truncated INTEGER NOT NULL DEFAULT 0,
    response_truncated INTEGER NOT NULL DEFAULT 0,
    bodies_dropped INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX exchanges_by_device ON exchanges (udid, channel, ended_ms);
  CREATE INDEX exchanges_by_time ON exchanges (ended_ms);
  CREATE INDEX exchanges_by_session ON exchanges (session_id);
  CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    host TEXT, udid TEXT NOT NULL, channel TEXT NOT NULL, user_id TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT,
    last_status TEXT,
    reason TEXT,
    notnow_commands TEXT,
    exchanges INTEGER,
    user_configuration INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX sessions_by_device ON sessions (udid, channel, started_at);
  CREATE TABLE devices (
    host TEXT NOT NULL DEFAULT '', udid TEXT NOT NULL, channel TEXT NOT NULL, user_id TEXT NOT NULL DEFAULT '',
    product_name TEXT, model TEXT, os_version TEXT, serial_number TEXT, device_name TEXT, platform TEXT,
    token_hash TEXT, token_prefix TEXT, push_magic_hash TEXT,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    checked_out INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (host, udid, channel, user_id)
  );
  CREATE INDEX devices_by_token ON devices (token_hash);
  CREATE TABLE obligations (
    session_id TEXT PRIMARY KEY,
    host TEXT, udid TEXT NOT NULL, channel TEXT NOT NULL, user_id TEXT,
    opened_at TEXT NOT NULL,
    deadline TEXT NOT NULL,
    outcome TEXT NOT NULL,
    command_uuids TEXT,
    state TEXT NOT NULL,
    discharged_at TEXT,
    by TEXT
  );
  CREATE INDEX obligations_by_state ON obligations (state);
  CREATE TABLE warnings (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    session_id TEXT,
    host TEXT, udid TEXT NOT NULL, channel TEXT NOT NULL, user_id TEXT,
    command_uuids TEXT,
    message TEXT NOT NULL,
    detail TEXT,
    raised_at TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT
  );
  CREATE INDEX warnings_by_rule ON warnings (rule, raised_at);
  CREATE INDEX warnings_by_session ON warnings (session_id);
  CREATE TABLE pushes (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    host TEXT, udid TEXT, channel TEXT, user_id TEXT,
    token_hash TEXT NOT NULL,
    token_prefix TEXT NOT NULL,
    push_magic_hash TEXT,
    apns_status INTEGER NOT NULL,
    reason TEXT
  );
  CREATE INDEX pushes_by_device ON pushes (udid, ts);
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    json TEXT NOT NULL
  );
  CREATE INDEX events_by_type ON events (type, ts);
  `,
  // 2: verdicts that hold on real servers — the identifying keys of bodies over --max-body, why a session was
  // interrupted in words, how long devices took to come back, warning ids, and what decides a push's delivery.
  `
  ALTER TABLE exchanges ADD COLUMN request_scan TEXT;
  ALTER TABLE exchanges ADD COLUMN response_scan TEXT;
  ALTER TABLE exchanges ADD COLUMN user_short_name TEXT;
  ALTER TABLE sessions ADD COLUMN detail TEXT;
  ALTER TABLE sessions ADD COLUMN outstanding TEXT;
  ALTER TABLE sessions ADD COLUMN since_notnow_ms INTEGER;
  ALTER TABLE sessions ADD COLUMN since_push_ms INTEGER;
  ALTER TABLE sessions ADD COLUMN user_short_name TEXT;
  ALTER TABLE warnings ADD COLUMN warning_id TEXT;
  CREATE INDEX warnings_by_id ON warnings (warning_id);
  ALTER TABLE pushes ADD COLUMN apns_expiration TEXT;
  ALTER TABLE pushes ADD COLUMN apns_priority TEXT;
  ALTER TABLE pushes ADD COLUMN apns_topic TEXT;
  ALTER TABLE pushes ADD COLUMN next_session_ms INTEGER;
  CREATE INDEX pushes_unanswered ON pushes (host, udid, channel, user_id) WHERE next_session_ms IS NULL;
  `,
  // 3: what each exchange meant, as live classification found it (from the raw bodies, before redaction): a
  // replay reads it instead of decoding the stored bodies again, and judges exactly what was judged live.
  `
  ALTER TABLE exchanges ADD COLUMN message TEXT;
  `,
  // 4: DDM — each declaration's latest status as the device's status reports give it (a full report replaces the
  // channel's rows, a partial one updates those it names). The syncs themselves are `ddm` events.
  `
  CREATE TABLE declarations (
    host TEXT NOT NULL DEFAULT '',
    udid TEXT NOT NULL,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    identifier TEXT NOT NULL,
    server_token TEXT,
    active INTEGER,
    valid TEXT,
    reasons TEXT,
    reported_at TEXT NOT NULL,
    PRIMARY KEY (host, udid, channel, user_id, kind, identifier)
  );
  CREATE INDEX declarations_by_validity ON declarations (valid, reported_at);
  `,
  // 5: each distinct body stored once. MDM traffic repeats itself (the same app list, profile list or device
  // information session after session): an exchange refers to its bodies by id; `request_body`/`response_body`
  // keep only an empty body (and an older run's rows). `exchange_bodies` gives SQL readers the bodies either way.
  // The references are not declared as foreign keys: better-sqlite3 enforces those, which cost the writer a third of
  // its throughput (measured), and the writer is the only one that sets them.
  `
  CREATE TABLE bodies (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
  );
  ALTER TABLE exchanges ADD COLUMN request_body_ref INTEGER;
  ALTER TABLE exchanges ADD COLUMN response_body_ref INTEGER;
  CREATE VIEW exchange_bodies AS
    SELECT e.id,
           coalesce(e.request_body, (SELECT data FROM bodies WHERE id = e.request_body_ref)) AS request_body,
           coalesce(e.response_body, (SELECT data FROM bodies WHERE id = e.response_body_ref)) AS response_body
      FROM exchanges e;
  `,
];

/** How often a running proxy marks its capture alive (meta `heartbeat_at`), so a viewer can tell it from a killed one. */
export const HEARTBEAT_MS = 5000;

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`the capture was written by a newer mdmtap (schema ${current}; this one knows ${SCHEMA_VERSION})`);
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
