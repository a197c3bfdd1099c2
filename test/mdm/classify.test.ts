import { describe, expect, it } from 'vitest';
import * as plist from 'plist';
import { classify, SCAN_REPLY, SCAN_REQUEST } from '../../src/mdm/classify.js';
import { scanKeys } from '../../src/plist/key-scan.js';
import { referenceBombPlist } from '../../bench/hostile.js';
import type { Exchange } from '../../src/model/exchange.js';
import { sha256Hex } from '../../src/mdm/hash.js';
import { fixture, fixtureFiles, plistOracle } from '../helpers/fixtures.js';
import { checkin, commandBody, idle, report, status, UDID } from '../helpers/mdm-bodies.js';


function exchange(requestBody: Uint8Array, over: Partial<Exchange> = {}): Exchange {
  return {
    id: 'x1',
    connectionId: 'c1',
    startedAt: 1000,
    endedAt: 1010,
    host: 'mdm.example.com',
    method: 'PUT',
    path: '/mdm',
    requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm' },
    requestBody,
    requestTruncated: false,
    status: 200,
    responseHeaders: {},
    responseBody: new Uint8Array(0),
    responseTruncated: false,
    ...over,
  };
}

describe('classify every fixture by its body', () => {
  const files = fixtureFiles();
  it('finds the fixtures', () => expect(files.length).toBeGreaterThan(40));
  for (const file of files) {
    it(file, () => {
      const bytes = fixture(file);
      const oracle = plistOracle(bytes.toString('utf8')) as Record<string, unknown>;
      // The path and method say nothing: a check-in sent to the command URL by POST still is a check-in.
      const msg = classify(exchange(bytes, { method: 'POST', path: '/whatever?x=1' }));
      expect(msg).toBeDefined();
      if (typeof oracle.MessageType === 'string') {
        expect(msg!.endpoint).toBe('checkin');
        if (msg!.endpoint !== 'checkin') return;
        expect(msg!.messageType).toBe(oracle.MessageType);
        expect(msg!.identity.udid).toBe(oracle.UDID ?? oracle.EnrollmentID);
        expect(msg!.identity.channel).toBe(oracle.UserID || oracle.EnrollmentUserID ? 'user' : 'device');
        if (oracle.Token) {
          const hex = Buffer.from(oracle.Token as Buffer).toString('hex');
          expect(msg!.tokenHash).toBe(sha256Hex(hex));
          expect(msg!.tokenPrefix).toBe(hex.slice(0, 8));
        }
        if (oracle.MessageType === 'Authenticate') expect(msg!.device).toBeDefined();
      } else if (typeof oracle.Status === 'string' && (oracle.UDID || oracle.EnrollmentID)) {
        expect(msg!.endpoint).toBe('command');
        if (msg!.endpoint !== 'command') return;
        expect(msg!.status).toBe(oracle.Status);
        expect(msg!.commandUUID).toBe(oracle.CommandUUID);
        expect(msg!.identity.udid).toBe(oracle.UDID ?? oracle.EnrollmentID);
        if (Array.isArray(oracle.ErrorChain)) expect(msg!.errorChain?.length).toBe(oracle.ErrorChain.length);
        expect(msg!.reply).toEqual({ kind: 'end' });
      } else {
        expect(msg!.endpoint).toBe('malformed');
      }
    });
  }
});

describe('the server reply', () => {
  it('a zero-length 200 ends the session', () => {
    const m = classify(exchange(idle()));
    expect(m?.endpoint === 'command' && m.reply).toEqual({ kind: 'end' });
  });
  it('a command names its UUID and RequestType', () => {
    const m = classify(exchange(idle(), { responseBody: commandBody('u-1', 'DeviceInformation', { Queries: ['UDID'] }) }));
    expect(m?.endpoint === 'command' && m.reply).toEqual({ kind: 'command', commandUUID: 'u-1', requestType: 'DeviceInformation' });
  });
  it('an empty plist is not the end of a session (Apple: zero-length body only)', () => {
    const m = classify(exchange(idle(), { responseBody: Buffer.from(plist.build({})) }));
    expect(m?.endpoint === 'command' && m.reply.kind).toBe('invalid');
  });
  it('HTTP errors and failed exchanges', () => {
    const e = classify(exchange(idle(), { status: 500 }));
    expect(e?.endpoint === 'command' && e.reply).toEqual({ kind: 'http-error', httpStatus: 500 });
    const f = classify(exchange(idle(), { status: 0, error: { kind: 'upstream-unreachable', message: 'refused' } }));
    expect(f?.endpoint === 'command' && f.reply).toEqual({ kind: 'failed', error: 'upstream-unreachable' });
  });
  it('an undecodable reply is flagged with its offset', () => {
    const m = classify(exchange(idle(), { responseBody: Buffer.from('<?xml version="1.0"?><plist><dict><key>A</key>') }));
    expect(m?.endpoint).toBe('command');
    if (m?.endpoint !== 'command') return;
    expect(m.reply.kind).toBe('invalid');
    expect(m.malformedResponse?.reason).toMatch(/not a plist/);
  });
  it('a truncated command reply is still a command, named by the keys read from the whole of it', () => {
    const body = commandBody('u-9', 'InstallProfile', { Payload: Buffer.alloc(3000, 1) });
    // Apple's sorted keys put RequestType after the payload: the head alone cannot name it.
    const cut = classify(exchange(idle(), { responseBody: body.subarray(0, 2000), responseTruncated: true }));
    expect(cut?.endpoint === 'command' && cut.reply).toEqual({ kind: 'command', commandUUID: 'unknown', requestType: 'unknown' });
    const scanned = classify(exchange(idle(), { responseBody: body.subarray(0, 2000), responseTruncated: true, responseScan: scanKeys(body, SCAN_REPLY) }));
    expect(scanned?.endpoint === 'command' && scanned.reply).toEqual({ kind: 'command', commandUUID: 'u-9', requestType: 'InstallProfile' });
  });

  it('a report larger than the capture limit is judged by the keys read from the whole body', () => {
    const body = report({ CommandUUID: 'c-big', InstalledApplicationList: Array.from({ length: 200 }, (_, i) => ({ Identifier: `app${i}` })), Status: 'Acknowledged' });
    const head = body.subarray(0, 1024);
    const m = classify(exchange(head, { requestTruncated: true, requestSize: body.length, requestScan: scanKeys(body, SCAN_REQUEST) }));
    expect(m).toMatchObject({ endpoint: 'command', status: 'Acknowledged', commandUUID: 'c-big', identity: { udid: UDID, channel: 'device' } });
    // Without what the scan found (or with a scan that found nothing), it stays unidentified: flagged, tied to no one.
    expect(classify(exchange(head, { requestTruncated: true }))).toMatchObject({ endpoint: 'malformed', side: 'request', reason: expect.stringMatching(/larger than the capture limit/) });
    const unread = classify(exchange(head, { requestTruncated: true, requestScan: { problem: 'unbalanced </dict>' } }));
    expect(unread).toMatchObject({ endpoint: 'malformed', reason: expect.stringMatching(/unbalanced/) });
    expect(unread && 'identity' in unread ? unread.identity : undefined).toBeUndefined();
  });
});

describe('identity', () => {
  it('user channel by UserID, separate from the device channel', () => {
    const m = classify(exchange(report({ Status: 'Idle', UserID: 'U-1', UserShortName: 'ann' })));
    expect(m?.endpoint === 'command' && m.identity).toEqual({ udid: UDID, channel: 'user', userId: 'U-1', userShortName: 'ann' });
  });
  it('Shared iPad: users reporting the all-F UserID are told apart by UserShortName', () => {
    const allF = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF';
    const ann = classify(exchange(report({ Status: 'Idle', UserID: allF, UserShortName: 'ann@school.example' })));
    const bob = classify(exchange(report({ Status: 'Idle', UserID: allF.toLowerCase(), UserShortName: 'bob@school.example' })));
    expect(ann?.endpoint === 'command' && ann.identity).toEqual({ udid: UDID, channel: 'user', userId: 'ann@school.example', userShortName: 'ann@school.example' });
    expect(bob?.endpoint === 'command' && bob.identity.userId).toBe('bob@school.example');
    // Without a short name there is nothing better than the placeholder.
    const anon = classify(exchange(report({ Status: 'Idle', UserID: allF })));
    expect(anon?.endpoint === 'command' && anon.identity.userId).toBe(allF);
  });
  it('User Enrollment: EnrollmentID and EnrollmentUserID', () => {
    const body = Buffer.from(plist.build({ Status: 'Idle', EnrollmentID: 'E-1', EnrollmentUserID: 'EU-1' }));
    const m = classify(exchange(body));
    expect(m?.endpoint === 'command' && m.identity).toEqual({ udid: 'E-1', channel: 'user', userId: 'EU-1', userEnrollment: true });
  });
  it('UserConfiguration on a user-channel report is carried', () => {
    const m = classify(exchange(status('NotNow', 'c1', { UserID: 'U', UserConfiguration: true })));
    expect(m?.endpoint === 'command' && m.userConfiguration).toBe(true);
  });
  it('DeviceInformation responses give device facts', () => {
    const m = classify(exchange(status('Acknowledged', 'c1', { QueryResponses: { ProductName: 'iPhone10,3', OSVersion: '17.1' } })));
    expect(m?.endpoint === 'command' && m.device).toEqual({ productName: 'iPhone10,3', osVersion: '17.1' });
  });
});

describe('what is not MDM, and what claims to be but is broken', () => {
  it('ignores non-MDM traffic', () => {
    expect(classify(exchange(Buffer.from('{"a":1}'), { requestHeaders: { 'content-type': 'application/json' } }))).toBeUndefined();
    expect(classify(exchange(new Uint8Array(0), { method: 'GET', requestHeaders: {} }))).toBeUndefined();
  });
  it('flags an MDM content type with a broken body, with the byte offset', () => {
    const m = classify(exchange(Buffer.from('<?xml version="1.0"?>\n<plist version="1.0"><dict><key>Status</key><string>Idle</dict>')));
    expect(m?.endpoint).toBe('malformed');
    if (m?.endpoint !== 'malformed') return;
    expect(m.side).toBe('request');
    expect(typeof m.offset).toBe('number');
  });
  it('flags a plist-looking body even without the content type', () => {
    const m = classify(exchange(Buffer.from('<?xml version="1.0"?><plist><dict><key>'), { requestHeaders: {} }));
    expect(m?.endpoint).toBe('malformed');
  });
  it('a hostile body gives up within the classification budget and is flagged, tied to no session', () => {
    // 500 arrays of 1,000 references each to the next: the ErrorChain classification reads would never end.
    const bomb = classify(exchange(referenceBombPlist(500, 1000, 0)));
    expect(bomb).toMatchObject({ endpoint: 'malformed', side: 'request', reason: expect.stringMatching(/too many values/) });
    // A selected value far longer than any identity.
    const longUdid = classify(exchange(report({ Status: 'Idle', UDID: 'U'.repeat(100_000) })));
    expect(longUdid).toMatchObject({ endpoint: 'malformed', reason: expect.stringMatching(/more than 65536 bytes/) });
    // The same bomb as the server's reply: the report is judged, the reply is invalid.
    const reply = classify(exchange(idle(), { responseBody: referenceBombPlist(120, 1000, 2000) }));
    expect(reply?.endpoint === 'command' && reply.reply.kind).toBe('invalid');
  });

  it('a check-in without identity is malformed, not a crash', () => {
    const m = classify(exchange(Buffer.from(plist.build({ MessageType: 'Authenticate' }))));
    expect(m?.endpoint).toBe('malformed');
  });
  it('keeps no token or PushMagic in the message outside the raw decoded values', () => {
    const m = classify(exchange(checkin('TokenUpdate', { Token: Buffer.from('secret-token-bytes-0123456789'), PushMagic: 'MAGIC-123' }), {
      requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm-checkin' },
    }));
    expect(m?.endpoint).toBe('checkin');
    const { requestValue, responseValue, ...facts } = m as unknown as Record<string, unknown>;
    void requestValue;
    void responseValue;
    const text = JSON.stringify(facts);
    expect(text).not.toContain('MAGIC-123');
    expect(text).not.toContain(Buffer.from('secret-token-bytes-0123456789').toString('hex'));
    expect(text).not.toContain(Buffer.from('secret-token-bytes-0123456789').toString('base64'));
  });
});
