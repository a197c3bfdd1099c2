/** Defaults shared by the live proxy and the offline commands, so both judge sessions alike. */
export {
  DEFAULT_PUSH_GRACE_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
  DEFAULT_PUSH_WAKE_MS,
  DEFAULT_RETURN_WINDOW_MS,
} from '../analysis/analyzer.js';
export const DEFAULT_PORT = 8080;
export const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
export const DEFAULT_DB = 'mdmtap.sqlite';
export const DEFAULT_CERTS = 'certs';
