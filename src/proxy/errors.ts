/**
 * The `error` event kinds the proxy emits (docs/design.md lists them with their meaning). Each says what happened,
 * so a reader can tell a device's fault from the server's, the network's or mdmtap's own.
 */
export type ProxyErrorKind =
  /** A device's request mdmtap cannot parse or pass on (answered 400). */
  | 'malformed-request'
  /** The server answered with something that is not HTTP a device can be given (502). */
  | 'bad-upstream-response'
  /** The server (or a tunnel's target) could not be reached (502). */
  | 'upstream-unreachable'
  /** A TLS handshake failed, with a device or with the server. */
  | 'tls'
  /** A device or the server was too slow: TLS handshake, request headers, request body, upstream inactivity. */
  | 'timeout'
  /** The server closed its connection mid-exchange. */
  | 'connection-reset'
  /** Refused (403): CONNECT or absolute-form in reverse mode; in forward mode, the MDM server under another name. */
  | 'proxy-refused'
  /** A client from a public address, not covered by --allow-client, was dropped. */
  | 'client-refused'
  /** --max-connections reached: new device connections are closed at once (once per incident). */
  | 'connection-limit'
  /** --body-budget reached: bodies are forwarded but not copied for analysis (once per incident). */
  | 'copy-budget'
  /** The listening socket failed after start. */
  | 'listen'
  /** APNs could not be reached for an intercepted push. */
  | 'apns-unreachable'
  /** A fault of mdmtap's own, caught before it could reach a connection. */
  | 'internal';

export interface ProxyError {
  kind: ProxyErrorKind;
  message: string;
}

/** A start that failed on something the user can fix: the port, the CA's folder, a certificate file. */
export class SetupError extends Error {}
