import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readIfExists } from './support/files.js';
import { FIXTURES } from './support/paths.js';
import { runCli } from './support/run-cli.js';

interface CaseSpec {
  args: string[];
  exitCode: number;
  stderr?: string[];
}

const CASES = path.join(FIXTURES, 'cases');

describe('whole runs over fixtures/cases through bin/ipanalyse', () => {
  const names = fs.readdirSync(CASES).filter((name) => fs.statSync(path.join(CASES, name)).isDirectory());
  test('the cases are there', () => assert.ok(names.length >= 5));
  for (const name of names) {
    test(name, () => {
      const source = path.join(CASES, name);
      const spec = JSON.parse(fs.readFileSync(path.join(source, 'case.json'), 'utf8')) as CaseSpec;
      const work = fs.mkdtempSync(path.join(os.tmpdir(), `ipanalyse-case-${name}-`));
      try {
        const previous = readIfExists(path.join(source, 'previous.map'));
        if (previous !== undefined) fs.writeFileSync(path.join(work, 'previous.map'), previous);
        const result = runCli(
          [
            '--settings',
            path.join(source, 'ip_blocks.conf'),
            '--map',
            'previous.map',
            '--changelog',
            'log/restricted_ip.log',
            path.join(source, 'access.log'),
            ...spec.args,
          ],
          { cwd: work },
        );
        assert.equal(result.status, spec.exitCode, `exit code; stderr: ${result.stderr}`);
        for (const expected of spec.stderr ?? []) assert.ok(result.stderr.includes(expected), `stderr should contain ${JSON.stringify(expected)}, got:\n${result.stderr}`);
        if (!spec.stderr) assert.equal(result.stderr, '', 'a normal run is silent');
        assert.equal(result.stdout, '', 'a normal run is silent');

        const expectedMap = readIfExists(path.join(source, 'expected.map')) ?? previous;
        assert.equal(readIfExists(path.join(work, 'previous.map')), expectedMap, 'map file');
        assert.equal(readIfExists(path.join(work, 'log/restricted_ip.log')), readIfExists(path.join(source, 'expected-changes.log')), 'change log');
        assert.deepEqual(fs.readdirSync(work).filter((f) => f.includes('tmp')), [], 'no temporary file is left');
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    });
  }
});
