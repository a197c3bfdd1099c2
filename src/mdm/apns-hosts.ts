/** Apple's push endpoints an MDM server connects to (HTTP/2, port 443, or 2197 where 443 is blocked). */
export const APNS_HOSTS: readonly string[] = ['api.push.apple.com', 'api.sandbox.push.apple.com', 'api.development.push.apple.com'];
export const APNS_PORTS: readonly number[] = [443, 2197];

export function isApnsTarget(host: string, port: number): boolean {
  return APNS_HOSTS.includes(host.toLowerCase()) && APNS_PORTS.includes(port);
}
