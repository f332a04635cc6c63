import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, ExitCode } from '../src/errors.js';
import { loadSettings } from '../src/settings/load-settings.js';
import { defaultSettings } from '../src/settings/settings.js';
import { REPO_ROOT } from './support/paths.js';

describe('loadSettings', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipanalyse-settings-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes `content` to a fresh file and returns its path. */
  let count = 0;
  async function settingsFile(content: string | Buffer): Promise<string> {
    const file = join(dir, `ip_blocks-${++count}.conf`);
    await writeFile(file, content);
    return file;
  }

  async function problemsOf(file: string): Promise<string[]> {
    const error = await loadSettings(file, dir).then(
      () => assert.fail('expected a ConfigError'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.exitCode, ExitCode.config);
    return error.problems;
  }

  it('reads the documented example as exactly the defaults', async () => {
    const file = join(REPO_ROOT, 'settings', 'ip_blocks.conf');
    const loaded = await loadSettings(file, '/srv/nominatim');
    assert.deepEqual(loaded.settings, defaultSettings('/srv/nominatim'));
    assert.equal(loaded.file, file);
    assert.match(loaded.origins.BULKLONG_LIMIT ?? '', /ip_blocks\.conf:\d+$/);
  });

  it('reads settings/ip_blocks.conf under the base directory by default', async () => {
    const base = join(dir, 'install');
    await mkdir(join(base, 'settings'), { recursive: true });
    await writeFile(join(base, 'settings', 'ip_blocks.conf'), "LOGFILE = BASEDIR + '/changes.log'\n");
    const loaded = await loadSettings(undefined, base);
    assert.equal(loaded.settings.LOGFILE, `${base}/changes.log`);
    assert.equal(loaded.file, join(base, 'settings', 'ip_blocks.conf'));
  });

  it('falls back to the defaults when the default file is missing, as the original does', async () => {
    const loaded = await loadSettings(undefined, join(dir, 'nowhere'));
    assert.deepEqual(loaded.settings, defaultSettings(join(dir, 'nowhere')));
    assert.equal(loaded.file, undefined);
    assert.equal(loaded.origins.MAX_BULK_IPS, 'default');
  });

  const unreadable: { name: string; file: () => string; cause: string }[] = [
    { name: 'a missing file given explicitly', file: () => join(dir, 'missing.conf'), cause: 'no such file or directory' },
    { name: 'a directory', file: () => dir, cause: 'is a directory, not a regular file' },
  ];
  for (const { name, file, cause } of unreadable) {
    it(`refuses ${name}`, async () => {
      assert.deepEqual(await problemsOf(file()), [`${file()}: cannot read settings: ${cause}`]);
    });
  }

  it('refuses a directory even at the default path', async () => {
    const base = join(dir, 'dir-install');
    await mkdir(join(base, 'settings', 'ip_blocks.conf'), { recursive: true });
    await assert.rejects(loadSettings(undefined, base), ConfigError);
  });

  it('reports syntax and value problems together, in line order', async () => {
    const file = await settingsFile(
      ['BULKLONG_LIMIT = 8000x', "WHITELIST = '1.2.3.999'", 'X = exec("rm -rf /")', 'BULKSHORT_LIMIT = -5'].join('\n'),
    );
    assert.deepEqual(await problemsOf(file), [
      `${file}:1 BULKLONG_LIMIT: '8000x' is not a number (a text value needs quotes, such as '8000x')`,
      `${file}:2 WHITELIST: '1.2.3.999' is not an IPv4 or IPv6 address or network`,
      `${file}:3 X: calling exec() is not allowed; the only function allowed is timedelta(...)`,
      `${file}:4 BULKSHORT_LIMIT: expected a number of requests (0 or more), got the number -5`,
    ]);
  });

  it('accepts bytes that are not UTF-8 in a comment', async () => {
    const file = await settingsFile(Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from('\nMAX_BULK_IPS = 9\n')]));
    assert.equal((await loadSettings(file, dir)).settings.MAX_BULK_IPS, 9);
  });

  it('refuses bytes that are not UTF-8 inside a value, on their line', async () => {
    const file = await settingsFile(
      Buffer.concat([Buffer.from("UA_BLOCKLIST = (\n  'curl/',\n  'caf"), Buffer.from([0xe9]), Buffer.from("',\n)\n")]),
    );
    assert.deepEqual(await problemsOf(file), [
      `${file}:3 UA_BLOCKLIST: the value contains bytes that are not valid UTF-8; save the file as UTF-8`,
    ]);
  });

  it('accepts a byte order mark and Windows line endings', async () => {
    const file = await settingsFile("\uFEFFBULK_LOWER = 10\r\nBLOCK_LOWER = 20\r\n");
    const { settings } = await loadSettings(file, dir);
    assert.equal(settings.BULK_LOWER, 10);
    assert.equal(settings.BLOCK_LOWER, 20);
  });
});
