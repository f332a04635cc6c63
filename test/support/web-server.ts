/**
 * Real Apache and nginx processes for the web-server tests: found, configured
 * from the templates in fixtures/servers/, started on loopback, asked as any
 * client address (through X-Forwarded-For), reloaded and stopped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { readIfExists } from './files.js';
import { FIXTURES } from './paths.js';

/** The executable's path, or undefined; sbin is searched too because PATH often lacks it. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = path.join(dir || '.', name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A port nobody listens on right now (the kernel's choice, so parallel test files do not collide). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Fills `{{KEY}}` placeholders; a placeholder left over is a mistake in the test, not a config to run. */
export function fillTemplate(template: string, values: Record<string, string | number>): string {
  const text = template.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => (key in values ? String(values[key]) : whole));
  const left = text.match(/\{\{\w+\}\}/);
  if (left) throw new Error(`template placeholder ${left[0]} has no value`);
  return text;
}

export interface RunningServer {
  child: ChildProcess;
  port: number;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/**
 * Starts a server in the foreground and waits until it accepts connections.
 * `errorLog` is quoted when it fails to come up, as that is where both servers say why.
 */
export async function startServer(command: string, args: string[], port: number, errorLog: string): Promise<RunningServer> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const server: RunningServer = { child, port, output: () => output };
  for (let attempt = 0; attempt < 100; attempt++) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) break;
    if (await connects(port)) return server;
    await sleep(100);
  }
  await stopServer(server);
  const log = readIfExists(errorLog) ?? '';
  throw new Error(`${command} did not come up on port ${port}: ${spawnError?.message ?? ''}\n${output}\n${log}`);
}

/** Stops the server and its workers: SIGTERM, then SIGKILL if it lingers. */
export async function stopServer(server: RunningServer | undefined): Promise<void> {
  const child = server?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts Apache (`apache2`) from a template of fixtures/servers/ in `root`,
 * with the two pools' static answers in htdocs/ and the map at `map`;
 * `values` fills the template's other placeholders.
 */
export async function startApache(apache2: string, template: string, root: string, map: string, values: Record<string, string> = {}): Promise<RunningServer> {
  fs.mkdirSync(path.join(root, 'htdocs'));
  for (const pool of ['www', 'bulk']) fs.writeFileSync(path.join(root, 'htdocs', `${pool}.txt`), `${pool}\n`);
  const port = await freePort();
  const conf = path.join(root, 'apache.conf');
  const asRoot = process.getuid?.() === 0;
  fs.writeFileSync(
    conf,
    fillTemplate(template, {
      ROOT: root,
      PORT: port,
      MAP: map,
      MODULES: '/usr/lib/apache2/modules',
      // Apache will not serve as root; unprivileged, it keeps its own user anyway.
      USER: asRoot ? 'www-data' : `#${process.getuid?.()}`,
      GROUP: asRoot ? 'www-data' : `#${process.getgid?.()}`,
      ...values,
    }),
  );
  return startServer(apache2, ['-f', conf, '-DFOREGROUND'], port, path.join(root, 'apache-error.log'));
}

export interface Answer {
  status: number;
  body: string;
}

/** One GET as `address`, on a fresh connection so that an nginx reload is seen by the next request. */
export function ask(port: number, urlPath: string, address: string): Promise<Answer> {
  return askVia(port, urlPath, { forwardedFor: address });
}

/**
 * One GET with the given X-Forwarded-For (none when undefined), from a
 * loopback address of its own (`from`, e.g. 127.0.0.2: a client that is not
 * the trusted proxy 127.0.0.1), with the given user agent.
 */
export function askVia(port: number, urlPath: string, options: { forwardedFor?: string; from?: string; userAgent?: string }): Promise<Answer> {
  const address = options.forwardedFor ?? options.from ?? '127.0.0.1';
  const headers: Record<string, string> = { Connection: 'close', 'User-Agent': options.userAgent ?? 'Mozilla/5.0 (X11; Linux x86_64)' };
  if (options.forwardedFor !== undefined) headers['X-Forwarded-For'] = options.forwardedFor;
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 3000, localAddress: options.from, headers },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${urlPath} as ${address}: no answer within 3 s`)));
    request.on('error', reject);
  });
}

/** What a client notices: `200 BODY` (the pool that answered) or the refusing status. */
export async function askAnswer(port: number, urlPath: string, address: string): Promise<string> {
  const { status, body } = await ask(port, urlPath, address);
  return status === 200 ? `200 ${body.trim()}` : String(status);
}

/** nginx swaps workers some time after a reload; polls `get` (bounded) until it gives `expected`, and returns what it gave last. */
export async function settle<T>(get: () => Promise<T>, expected: T): Promise<T> {
  let got = await get();
  for (let round = 0; round < 50 && !isDeepStrictEqual(got, expected); round++) {
    await sleep(100);
    got = await get();
  }
  return got;
}

export const SERVERS = path.join(FIXTURES, 'servers');

/** A template of fixtures/servers/. */
export const readTemplate = (name: string) => fs.readFileSync(path.join(SERVERS, name), 'utf8');

export interface NginxServer extends RunningServer {
  /** The arguments that point nginx at this instance (for `-t`, `-s reload` and the operator's ON_CHANGE). */
  args: string[];
}

/** Starts nginx in the foreground from a template of fixtures/servers/ (ROOT, PORT, MAP) in `root`. */
export async function startNginx(executable: string, template: string, root: string, map: string): Promise<NginxServer> {
  const port = await freePort();
  const conf = path.join(root, 'nginx.conf');
  fs.writeFileSync(conf, fillTemplate(template, { ROOT: root, PORT: port, MAP: map }));
  // -e: the error log before the config is read, which would otherwise be /var/log/nginx.
  const args = ['-c', conf, '-p', root, '-e', path.join(root, 'nginx-error.log')];
  return { ...(await startServer(executable, [...args, '-g', 'daemon off;'], port, path.join(root, 'nginx-error.log'))), args };
}

/** Runs nginx itself against a started instance: `-t -q` (check the config and map) or `-s reload`; throws with its stderr when it fails. */
export function controlNginx(executable: string, server: NginxServer, ...args: string[]): void {
  const result = spawnSync(executable, [...args, ...server.args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`nginx ${args.join(' ')}: ${result.stderr}`);
}
