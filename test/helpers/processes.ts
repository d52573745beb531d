import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN_SCRIPT = join(REPO_ROOT, 'dist', 'main.js');

/** A free TCP port on loopback (closed again before returning; tiny race accepted in tests). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

export interface RoleProcess {
  name: string;
  child: ChildProcess;
  /** Every JSON log line the process wrote so far. */
  logs: Record<string, unknown>[];
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

export interface CollectedLogs {
  /** Every JSON log line the process wrote so far (other lines as `{ msg }`). */
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  /** The last ten lines, for error messages. */
  lastLines(): string;
  /** The first line matching `predicate`, past or future; rejects on timeout or exit. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Collects the JSON log lines a child writes on stdout and stderr. */
export function collectLogs(name: string, child: ChildProcess): CollectedLogs {
  const logs: Record<string, unknown>[] = [];
  const waiters: { predicate: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  let buffer = '';
  const onData = (data: Buffer): void => {
    buffer += data.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text };
      }
      logs.push(line);
      if (process.env.TEST_VERBOSE) console.error(`[${name}]`, text);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const lastLines = (): string => logs.slice(-10).map((l) => JSON.stringify(l)).join('\n');
  return {
    logs,
    exited,
    lastLines,
    waitForLog(predicate, timeoutMs = 30_000) {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolveWait, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no matching log line within ${timeoutMs} ms; last lines:\n${lastLines()}`)), timeoutMs);
        const waiter = {
          predicate,
          resolve: (line: Record<string, unknown>) => {
            clearTimeout(timer);
            resolveWait(line);
          },
        };
        waiters.push(waiter);
        void exited.then((code) => {
          if (!waiters.includes(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`${name} exited with ${code} before the expected log line; last lines:\n${lastLines()}`));
        });
      });
    },
  };
}

/** Starts `node dist/main.js <role>` with `env`; its JSON log lines are collected. */
export function startRole(role: string, env: Record<string, string>, name = role): RoleProcess {
  if (!existsSync(MAIN_SCRIPT)) throw new Error(`${MAIN_SCRIPT} is missing: run "npm run build" first (npm test does)`);
  const child = spawn(process.execPath, [MAIN_SCRIPT, role], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { logs, exited, waitForLog } = collectLogs(name, child);
  return {
    name,
    child,
    logs,
    exited,
    waitForLog,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** The path of a binary, or an error saying how to install it (CI must never skip silently). */
export function requireBinary(name: string, install: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`]).toString().trim();
  } catch {
    throw new Error(`${name} is not installed; install it with: ${install}`);
  }
}

export interface NatsServer {
  url: string;
  stop(): Promise<void>;
  process: ChildProcess;
}

/** Starts a real nats-server (JetStream on, store in a temp dir) on a free loopback port. */
export async function startNats(): Promise<NatsServer> {
  const binary = requireBinary('nats-server', 'apt-get install -y nats-server');
  const port = await freePort();
  const storeDir = tempDir('nats');
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${output}`)), 10_000);
    const onData = (data: Buffer): void => {
      output += data.toString();
      if (output.includes('Server is ready')) {
        clearTimeout(timer);
        resolveReady();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${output}`)));
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    process: child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
