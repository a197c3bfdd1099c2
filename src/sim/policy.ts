/**
 * What a server does after a NotNow: the behaviours of real MDM servers, one small function each.
 *  - apple:      stop with an empty reply; the refused command stays queued and goes out on the next poll.
 *  - nanomdm:    as NanoMDM's queue really does (service/nanomdm/service.go, checked against the real server): only
 *                the reply to a NotNow skips refused commands; after any other status they are offered again, so a
 *                session ends on NotNow or with every refused command completed (recovered).
 *  - keep-going: skip refused commands for the rest of the session (strands them) and never push.
 *  - push-after: like keep-going, then push once the session is over.
 */
export type PolicyName = 'apple' | 'nanomdm' | 'keep-going' | 'push-after';
export const POLICIES: readonly PolicyName[] = ['apple', 'nanomdm', 'keep-going', 'push-after'];

export interface QueuedCommand {
  uuid: string;
  requestType: string;
  extra: Record<string, unknown>;
}

export interface SessionState {
  /** Commands refused with NotNow in this session. */
  refused: Set<string>;
  lastStatus?: string;
  lastUUID?: string;
}

/** The next command to send, or undefined to end the session with an empty reply. */
export type Policy = (queue: readonly QueuedCommand[], s: SessionState) => QueuedCommand | undefined;

const apple: Policy = (queue, s) => (s.lastStatus === 'NotNow' ? undefined : queue[0]);
const nanomdm: Policy = (queue, s) => (s.lastStatus === 'NotNow' ? queue.find((c) => !s.refused.has(c.uuid)) : queue[0]);
const keepGoing: Policy = (queue, s) => queue.find((c) => !s.refused.has(c.uuid));

export const policies: Record<PolicyName, Policy> = { apple, nanomdm, 'keep-going': keepGoing, 'push-after': keepGoing };

export function isPolicy(name: string): name is PolicyName {
  return (POLICIES as readonly string[]).includes(name);
}
