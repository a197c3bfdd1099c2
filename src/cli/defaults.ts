/** Defaults shared by the live proxy and the offline commands, so both judge sessions alike. */
export const DEFAULT_PUSH_GRACE_MS = 120_000;
export const DEFAULT_SESSION_TIMEOUT_MS = 60_000;
export const DEFAULT_PORT = 8080;
export const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
export const DEFAULT_DB = 'mdmtap.sqlite';
export const DEFAULT_CERTS = 'certs';
