import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePythonAssignments, type PyValue } from '../src/settings/python-literal.js';
import { ORIGINAL_SETTINGS_BLOCK } from './support/original-settings.js';

const parse = (text: string) => parsePythonAssignments(text, { BASEDIR: '/srv/nominatim' });

/** The value of the only assignment in `text`, failing on any problem. */
function valueOf(text: string): PyValue {
  const { assignments, problems } = parse(text);
  assert.deepEqual(problems, []);
  assert.equal(assignments.length, 1);
  return assignments[0].value;
}

describe('parsePythonAssignments', () => {
  it("reads the original's default block", () => {
    const { assignments, problems } = parse(ORIGINAL_SETTINGS_BLOCK);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      assignments.map(({ key, line, value }) => [key, line, value]),
      [
        ['BLOCKEDFILE', 1, '/srv/nominatim/settings/ip_blocks.map'],
        ['LOGFILE', 2, '/srv/nominatim/log/restricted_ip.log'],
        ['WHITELIST', 5, ''],
        ['BLACKLIST', 7, ''],
        ['UA_BLOCKLIST', 10, []],
        ['BLOCKCOOLOFF_DELTA', 13, { timedeltaSeconds: 3600 }],
        ['BULKCOOLOFF_DELTA', 15, { timedeltaSeconds: 900 }],
        ['BULKLONG_LIMIT', 17, 8000],
        ['BULKSHORT_LIMIT', 18, 2000],
        ['BLOCK_UPPER', 19, 19000],
        ['BLOCK_LOWER', 20, 4000],
        ['BLOCK_LOADFAC', 21, 380],
        ['BULK_LOADFAC', 22, 160],
        ['BULK_LOWER', 23, 1500],
        ['MAX_BULK_IPS', 24, 85],
      ],
    );
  });

  const values: { name: string; text: string; value: PyValue }[] = [
    { name: 'single-quoted string', text: "A = 'x'", value: 'x' },
    { name: 'double-quoted string', text: 'A = "it\'s"', value: "it's" },
    { name: 'escapes', text: String.raw`A = 'a\tb\n\\ \' \" \x41 \u00e9 \101'`, value: 'a\tb\n\\ \' " A é A' },
    { name: 'unknown escape kept as Python keeps it', text: String.raw`A = '\d'`, value: '\\d' },
    { name: 'raw string keeps backslashes', text: String.raw`A = r'\d+\''`, value: "\\d+\\'" },
    { name: 'prefixes in either case', text: String.raw`A = R'\n' + U'x' + u'y'`, value: '\\nxy' },
    { name: 'adjacent strings concatenate', text: "A = 'a' \"b\" 'c'", value: 'abc' },
    { name: 'adjacent strings in parentheses across lines', text: "WHITELIST = ('1.2.3.4 '\n  '5.6.7.8')", value: '1.2.3.4 5.6.7.8' },
    { name: 'triple-quoted whitelist over lines', text: "WHITELIST = '''\n1.2.3.4\n5.6.7.8\n'''", value: '\n1.2.3.4\n5.6.7.8\n' },
    { name: 'triple double quotes holding a quote', text: 'A = """say "hi" """', value: 'say "hi" ' },
    { name: 'plus between strings', text: "A = 'a' + 'b'", value: 'ab' },
    { name: 'BASEDIR expands', text: "A = BASEDIR + '/x'", value: '/srv/nominatim/x' },
    { name: 'integer with underscores', text: 'A = 8_000', value: 8000 },
    { name: 'hexadecimal integer', text: 'A = 0x1F', value: 31 },
    { name: 'float', text: 'A = 1.5', value: 1.5 },
    { name: 'float with exponent', text: 'A = 1e3', value: 1000 },
    { name: 'multiplication before addition', text: 'A = 2 + 3 * 4', value: 14 },
    { name: 'parentheses group', text: 'A = (2 + 3) * 4', value: 20 },
    { name: 'subtraction is left-associative', text: 'A = 10 - 3 - 2', value: 5 },
    { name: 'unary minus', text: 'A = -2 * -3', value: 6 },
    { name: 'true division', text: 'A = 7 / 2', value: 3.5 },
    { name: 'floor division rounds down', text: 'A = -7 // 2', value: -4 },
    { name: "the original's log size", text: 'A = 2*1030*1024', value: 2109440 },
    { name: 'True False None', text: 'A = (True, False, None)', value: [true, false, null] },
    { name: 'tuple', text: "A = ('a', 'b')", value: ['a', 'b'] },
    { name: 'one-element tuple', text: "A = ('a',)", value: ['a'] },
    { name: 'empty tuple', text: 'A = ()', value: [] },
    { name: 'list with trailing comma', text: "A = ['a', 'b',]", value: ['a', 'b'] },
    { name: 'parenthesized string is a string', text: "A = ('curl/')", value: 'curl/' },
    { name: 'tuples concatenate', text: "A = ('a',) + ('b',)", value: ['a', 'b'] },
    { name: 'tuple over lines with comments', text: "A = (\n  'a',  # first\n  'b',\n)", value: ['a', 'b'] },
    { name: 'timedelta keywords', text: 'A = timedelta(hours=1, minutes=30)', value: { timedeltaSeconds: 5400 } },
    { name: 'timedelta small units', text: 'A = timedelta(seconds=1, milliseconds=500, microseconds=250)', value: { timedeltaSeconds: 1.50025 } },
    { name: 'timedelta weeks and days', text: 'A = timedelta(weeks=1, days=1)', value: { timedeltaSeconds: 8 * 86400 } },
    { name: 'timedelta positional days and seconds', text: 'A = timedelta(0, 900)', value: { timedeltaSeconds: 900 } },
    { name: 'timedelta positional then keyword', text: 'A = timedelta(1, hours=2)', value: { timedeltaSeconds: 93600 } },
    { name: 'datetime.timedelta', text: 'A = datetime.timedelta(minutes=15)', value: { timedeltaSeconds: 900 } },
    { name: 'timedelta arithmetic', text: 'A = 2 * timedelta(minutes=10) + timedelta(seconds=5)', value: { timedeltaSeconds: 1205 } },
    { name: 'timedelta of a fraction', text: 'A = timedelta(hours=0.25)', value: { timedeltaSeconds: 900 } },
    { name: 'backslash continuation', text: "A = 'a' + \\\n    'b'", value: 'ab' },
    { name: 'windows line endings', text: "A = ('a',\r\n 'b')\r\n", value: ['a', 'b'] },
  ];
  for (const { name, text, value } of values) {
    it(`reads ${name}`, () => assert.deepEqual(valueOf(text), value));
  }

  it('reads several statements on one line', () => {
    const { assignments, problems } = parse('A = 1; B = 2;\nC = 3');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      assignments.map(({ key, line, value }) => [key, line, value]),
      [
        ['A', 1, 1],
        ['B', 1, 2],
        ['C', 2, 3],
      ],
    );
  });

  it('uses a key assigned earlier in the file, as Python would', () => {
    const { assignments } = parse('BULKLONG_LIMIT = 8000\nBULKSHORT_LIMIT = BULKLONG_LIMIT // 4');
    assert.equal(assignments[1].value, 2000);
  });

  it('ignores the datetime imports', () => {
    const { assignments, problems } = parse('from datetime import timedelta\nimport datetime\nfrom datetime import datetime, timedelta\nA = 1');
    assert.deepEqual(problems, []);
    assert.deepEqual(assignments, [{ key: 'A', line: 4, value: 1 }]);
  });

  it('numbers a statement by the line it starts on, after multi-line strings', () => {
    const { assignments } = parse("A = '''x\ny\n'''\n\nB = 1");
    assert.deepEqual(
      assignments.map((a) => [a.key, a.line]),
      [
        ['A', 1],
        ['B', 5],
      ],
    );
  });

  const refusals: { name: string; text: string; line: number; key?: string; message: RegExp }[] = [
    { name: 'exec statement', text: "exec('import os')", line: 1, message: /calling exec\(\) is not allowed/ },
    { name: 'exec as a value', text: "A = exec('x')", line: 1, key: 'A', message: /calling exec\(\) is not allowed/ },
    { name: '__import__', text: "A = __import__('os')", line: 1, key: 'A', message: /calling __import__\(\) is not allowed/ },
    { name: 'attribute access', text: "A = os.environ", line: 1, key: 'A', message: /unknown name 'os'/ },
    { name: 'method call on a string', text: "A = 'x'.upper()", line: 1, key: 'A', message: /calls, indexing and attribute access are not allowed/ },
    { name: 'unknown name', text: 'A = foo', line: 1, key: 'A', message: /unknown name 'foo'/ },
    { name: 'if statement', text: 'if True: A = 1', line: 1, message: /expected '=' after 'if'/ },
    { name: 'import of another module', text: 'import os', line: 1, message: /only 'import datetime'/ },
    { name: 'timedelta with an unknown keyword', text: 'A = timedelta(hour=1)', line: 1, key: 'A', message: /timedelta\(\) has no argument 'hour' \(did you mean hours\?\)/ },
    { name: 'timedelta with a string', text: "A = timedelta(hours='1')", line: 1, key: 'A', message: /needs a number, got the string '1'/ },
    { name: 'timedelta with a keyword twice', text: 'A = timedelta(1, days=2)', line: 1, key: 'A', message: /got days twice/ },
    { name: 'f-string', text: "A = f'{x}'", line: 1, key: 'A', message: /f-strings are not supported/ },
    { name: 'byte string', text: "A = b'x'", line: 1, key: 'A', message: /byte strings are not supported/ },
    { name: 'unclosed string', text: "A = 'x", line: 1, key: 'A', message: /not closed/ },
    { name: 'unclosed triple-quoted string', text: "A = '''x\n", line: 1, key: 'A', message: /never closed/ },
    { name: 'bad hex escape', text: String.raw`A = '\xZZ'`, line: 1, key: 'A', message: /2 hexadecimal digits/ },
    { name: 'unclosed bracket', text: "A = ('x',\n", line: 1, key: 'A', message: /'\(' is never closed/ },
    { name: 'mismatched bracket', text: "A = ('x']", line: 1, key: 'A', message: /closed by '\]'/ },
    { name: 'dict', text: "A = {'a': 1}", line: 1, key: 'A', message: /dicts and sets are not supported/ },
    { name: 'number glued to letters', text: 'A = 8000x', line: 1, key: 'A', message: /'8000x' is not a number/ },
    { name: 'leading zero', text: 'A = 0800', line: 1, key: 'A', message: /leading zeros/ },
    { name: 'string plus number', text: "A = 'a' + 1", line: 1, key: 'A', message: /'\+' cannot combine the string 'a' and the number 1/ },
    { name: 'division by zero', text: 'A = 1 / 0', line: 1, key: 'A', message: /division by zero/ },
    { name: 'two values', text: 'A = 1 2', line: 1, key: 'A', message: /expected the end of the statement after the value, found the number 2/ },
    { name: 'missing value', text: 'A =', line: 1, key: 'A', message: /expected a value, found the end of the line/ },
    { name: 'indented statement', text: '  A = 1', line: 1, key: 'A', message: /unexpected indentation/ },
    { name: 'stray character', text: 'A = 1 $', line: 1, key: 'A', message: /unexpected the character '\$'/ },
    { name: 'augmented assignment', text: "A += 'x'", line: 1, message: /expected '=' after 'A', found '\+'/ },
    { name: 'error on a later line of the statement', text: "A = (\n  'a',\n  b)", line: 1, key: 'A', message: /unknown name 'b'.*\(line 3\)/ },
  ];
  for (const { name, text, line, key, message } of refusals) {
    it(`refuses ${name}`, () => {
      const { assignments, problems } = parse(text);
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0].line, line);
      assert.equal(problems[0].key, key);
      assert.match(problems[0].message, message);
      assert.deepEqual(assignments, []);
    });
  }

  it('goes on after a broken statement and reports later problems on their lines', () => {
    const text = ["A = 'unclosed", 'B = 1', "C = ('a',", 'D = foo', 'E = exec(1)', 'F = 2'].join('\n');
    const { assignments, problems } = parse(text);
    assert.deepEqual(
      problems.map((p) => [p.line, p.key]),
      [
        [1, 'A'],
        [3, 'C'],
        [4, 'D'],
        [5, 'E'],
      ],
    );
    assert.deepEqual(
      assignments.map((a) => a.key),
      ['B', 'F'],
    );
  });

  it('keeps a timedelta keyword at the start of a line inside its call', () => {
    assert.deepEqual(valueOf('A = timedelta(\nhours=1)'), { timedeltaSeconds: 3600 });
  });
});

describe('values that would exhaust the parser are problems, not crashes', () => {
  it('brackets nested thousands deep', () => {
    const { problems } = parsePythonAssignments(`X = ${'('.repeat(3000)}1${')'.repeat(3000)}\nY = 2`, {});
    assert.match(problems[0]?.message ?? '', /nested too deeply|too large/);
  });
  it('a string that doubles on every line', () => {
    const lines = ["A = 'x'", ...new Array(30).fill('A = A + A')];
    const { problems } = parsePythonAssignments(lines.join('\n'), {});
    assert.match(problems[0]?.message ?? '', /too large/);
  });
  it('a tuple that doubles on every line', () => {
    const lines = ["A = 'x'", ...new Array(30).fill('A = (A, A)')];
    const { problems } = parsePythonAssignments(lines.join('\n'), {});
    assert.match(problems[0]?.message ?? '', /too large/);
  });
});
