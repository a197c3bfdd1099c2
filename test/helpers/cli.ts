/** Runs the built `mdmtap` binary as a real child process (npm test builds before vitest runs). */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; /** Written to stdin, then closed. */ input?: string | Buffer } = {}): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Running {
  child: import('node:child_process').ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stderr match of `re` (e.g. the listening line). */
  waitStderr(re: RegExp): Promise<RegExpMatchArray>;
  waitStdout(re: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

/** Starts the CLI and keeps it running (a proxy); the caller stops it with a signal. */
export function startCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Running {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...process.env, NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const watchers: Array<() => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    watchers.forEach((w) => w());
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    watchers.forEach((w) => w());
  });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => {
    watchers.forEach((w) => w());
    r(code);
  }));
  const wait = (get: () => string, re: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${get()}\n--- stderr:\n${err}`)), 20_000);
      const check = () => {
        const m = get().match(re);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else if (child.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`exited (${child.exitCode}) before ${re}:\n${get()}\n--- stderr:\n${err}`));
        }
      };
      watchers.push(check);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, waitStderr: (re) => wait(() => err, re), waitStdout: (re) => wait(() => out, re), exited };
}
