/**
 * The client-certificate header (`--client-cert-header`) is trusted by the MDM server, so a device must never
 * bring its own: every header a server stack could read as that name is removed before mdmtap adds the real one.
 *
 * Stacks fold names differently: all of them ignore case; nginx matches `-` and `_` as one character for
 * `$http_*` variables; CGI, Rack, WSGI and PHP turn `-` into `_` (HTTP_X_CLIENT_CERT), and Apache's CGI
 * environment turns every character that is not a letter or a digit into `_`. Two names are therefore the same
 * header here when they are equal after lower-casing and mapping every non-alphanumeric character to `_` — a
 * superset of each stack's own folding.
 */
export function foldHeaderName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '_');
}

/** A test for "is this the client-certificate header, in any spelling", or undefined when there is none. */
export function certHeaderMatcher(name: string | undefined): ((candidate: string) => boolean) | undefined {
  if (!name) return undefined;
  const folded = foldHeaderName(name);
  return (candidate) => candidate.length === name.length && foldHeaderName(candidate) === folded;
}
