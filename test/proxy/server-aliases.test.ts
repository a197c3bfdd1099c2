import { describe, expect, it } from 'vitest';
import { ServerAliases } from '../../src/proxy/server-aliases.js';

describe('ServerAliases: the MDM server under another name', () => {
  it('knows the server by every address its name resolved to, keeps them through a failed lookup and a round-robin answer', async () => {
    let now = 0;
    const answers: Array<string[] | Error> = [['192.0.2.10', '192.0.2.11'], new Error('EAI_AGAIN'), ['192.0.2.11']];
    let asked = 0;
    const aliases = new ServerAliases([{ host: 'mdm.example.com', port: 443 }], async () => {
      const a = answers[Math.min(asked++, answers.length - 1)];
      if (a instanceof Error) throw a;
      return a;
    }, () => now);
    expect(await aliases.serverAt('192.0.2.10', 443)).toBe('mdm.example.com:443');
    expect(await aliases.serverAt('::ffff:192.0.2.11', 443)).toBe('mdm.example.com:443');
    expect(await aliases.serverAt('192.0.2.10', 8443)).toBeUndefined();
    expect(await aliases.serverAt('198.51.100.7', 443)).toBeUndefined();
    // A minute on, DNS fails: nothing known is forgotten.
    now = 61_000;
    expect(await aliases.serverAt('192.0.2.10', 443)).toBe('mdm.example.com:443');
    expect(asked).toBe(2);
    // Tried again soon; the next answer leaves .10 out, which stays the server's for a while all the same.
    now = 67_000;
    expect(await aliases.serverAt('192.0.2.10', 443)).toBe('mdm.example.com:443');
    expect(asked).toBe(3);
    // Long after it was last seen, it is forgotten.
    now = 20 * 60_000;
    expect(await aliases.serverAt('192.0.2.10', 443)).toBeUndefined();
    expect(await aliases.serverAt('192.0.2.11', 443)).toBe('mdm.example.com:443');
  });

  it('takes any local address for a server on this machine', async () => {
    const aliases = new ServerAliases([{ host: '127.0.0.1', port: 9443 }]);
    expect(await aliases.serverAt('127.0.0.2', 9443)).toBe('127.0.0.1:9443');
    expect(await aliases.serverAt('::1', 9443)).toBe('127.0.0.1:9443');
    expect(await aliases.serverAt('192.0.2.1', 9443)).toBeUndefined();
  });
});
