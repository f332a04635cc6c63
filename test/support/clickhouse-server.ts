/**
 * A real ClickHouse server (Debian's clickhouse-server, 18.16) for the
 * tests, on loopback only, with its data in a temporary directory; installed
 * with apt-get first when it is missing and the tests run as root.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './web-server.js';

export interface ClickHouse {
  /** The HTTP interface, e.g. http://127.0.0.1:41234/ */
  url: string;
  /** Runs one statement; throws with ClickHouse's message when it fails. */
  query(sql: string, body?: string): Promise<string>;
  stop(): Promise<void>;
}

const SERVER_PATHS = ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server', '/usr/bin/clickhouse'];

function findServer(): string[] | undefined {
  const found = SERVER_PATHS.find((file) => fs.existsSync(file));
  if (!found) return undefined;
  return found.endsWith('/clickhouse') ? [found, 'server'] : [found];
}

/** The server's command, installing the package when allowed; or why there is none. */
function serverCommand(): string[] | string {
  const found = findServer();
  if (found) return found;
  if (process.getuid?.() !== 0) return 'clickhouse-server is not installed and the tests do not run as root to install it';
  const install = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clickhouse-server'], { encoding: 'utf8' });
  return findServer() ?? `clickhouse-server could not be installed: ${(install.stderr || install.stdout).trim().split('\n').pop()}`;
}

/** Starts a server whose files live under `dir`; a string says why none could be started. */
export async function startClickHouse(dir: string): Promise<ClickHouse | string> {
  const command = serverCommand();
  if (typeof command === 'string') return command;
  const [httpPort, tcpPort] = [await freePort(), await freePort()];
  const data = (name: string) => path.join(dir, name) + '/';
  fs.writeFileSync(
    path.join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${data('data')}</path>
  <tmp_path>${data('tmp')}</tmp_path>
  <user_files_path>${data('user_files')}</user_files_path>
  <format_schema_path>${data('format_schemas')}</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>536870912</mark_cache_size>
</yandex>
`,
  );
  fs.writeFileSync(
    path.join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`,
  );
  const child: ChildProcess = spawn(command[0], [...command.slice(1), `--config-file=${dir}/config.xml`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const url = `http://127.0.0.1:${httpPort}/`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  for (let waited = 0; ; waited += 200) {
    if (child.exitCode !== null) return `clickhouse-server exited with ${child.exitCode}: ${stderr.trim().split('\n').pop() ?? ''}`;
    const ok = await fetch(`${url}ping`).then((response) => response.text(), () => '');
    if (ok.trim() === 'Ok.') break;
    if (waited > 60_000) {
      await stop();
      return `clickhouse-server did not answer /ping within 60 s`;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const query = async (sql: string, body?: string) => {
    const target = new URL(url);
    if (body !== undefined) target.searchParams.set('query', sql);
    const response = await fetch(target, { method: 'POST', body: body ?? sql });
    const text = await response.text();
    if (!response.ok) throw new Error(`ClickHouse: ${text.trim()} (for ${sql.slice(0, 100)})`);
    return text;
  };
  return { url, query, stop };
}
