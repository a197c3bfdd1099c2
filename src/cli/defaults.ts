/** Defaults of the command line (the analyzer's settings carry their own: src/analysis/settings.ts). */
export const DEFAULT_PORT = 8080;
export const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
export const DEFAULT_DB = 'mdmtap.sqlite';
export const DEFAULT_CERTS = 'certs';
