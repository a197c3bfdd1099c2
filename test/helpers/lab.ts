/**
 * What the CLI tests of a file share: one temporary folder, one mdmtap CA made once in it (every mdmtap child
 * process of the file loads it instead of generating its own), and, when asked, one reference MDM server that
 * keeps going after NotNow, whose CA the children trust through --upstream-ca.
 */
import Database from 'better-sqlite3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCa } from '../../src/proxy/ca.js';
import { startReferenceServer, type ReferenceServer } from '../../src/sim/server.js';
import type { Running } from './cli.js';
import { tempDir } from './tls-peers.js';

export interface CliLab {
  dir: string;
  /** The certs folder holding the shared mdmtap CA (pass it with --certs). */
  certs: string;
  /** The mdmtap CA certificate (PEM), for devices to trust. */
  caPem: string;
  /** A fresh folder inside the lab (a working directory, a capture's home). */
  folder(name: string): string;
  close(): Promise<void>;
}

export interface ServerLab extends CliLab {
  server: ReferenceServer;
  /** The server as --mdm-host names it. */
  target: string;
  /** start's arguments for forward mode in front of the server, headless on a free loopback port. */
  forwardArgs(...more: string[]): string[];
}

let folders = 0;

export async function cliLab(prefix = 'mdmtap-cli-'): Promise<CliLab> {
  const tmp = tempDir(prefix);
  const certs = join(tmp.dir, 'certs');
  const ca = await ensureCa(certs);
  return {
    dir: tmp.dir,
    certs,
    caPem: ca.certPem,
    folder: (name) => {
      const d = join(tmp.dir, `${name}-${++folders}`);
      mkdirSync(d, { recursive: true });
      return d;
    },
    close: async () => tmp.remove(),
  };
}

export async function serverLab(policy: 'keep-going' | 'apple' = 'keep-going'): Promise<ServerLab> {
  const lab = await cliLab();
  const server = await startReferenceServer({ policy });
  const serverCa = join(lab.dir, 'server-ca.pem');
  writeFileSync(serverCa, server.ca);
  const target = `127.0.0.1:${server.port}`;
  return {
    ...lab,
    server,
    target,
    forwardArgs: (...more) => ['start', '--host', '127.0.0.1', '--port', '0', '--mdm-host', target, '--upstream-ca', serverCa, '--certs', lab.certs, ...more],
    close: async () => {
      await server.close();
      await lab.close();
    },
  };
}

/** The port a started mdmtap listens on, from its "listening on" line. */
export async function listeningPort(p: Running): Promise<number> {
  return Number((await p.waitStderr(/listening on 127\.0\.0\.1:(\d+)/))[1]);
}

/** Stops a started mdmtap as a user does (SIGTERM) and returns its exit status. */
export async function stop(p: Running): Promise<number | null> {
  p.child.kill('SIGTERM');
  return p.exited;
}

/** Rows of a query on a capture, opened read-only as an auditor would. */
export function query<T = Record<string, unknown>>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** JSON lines as objects (blank lines skipped). */
export function jsonLines<T = Record<string, unknown> & { type: string }>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}
