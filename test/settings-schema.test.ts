import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePythonAssignments } from '../src/settings/python-literal.js';
import { validateSettings } from '../src/settings/settings-schema.js';
import { defaultSettings, type Settings } from '../src/settings/settings.js';
import { ORIGINAL_SETTINGS_BLOCK } from './support/original-settings.js';

const FILE = 'settings/ip_blocks.conf';
const BASE = '/srv/nominatim';

function validate(text: string) {
  const { assignments, problems } = parsePythonAssignments(text, { BASEDIR: BASE });
  assert.deepEqual(problems, [], 'the test text must parse');
  return validateSettings(assignments, FILE, BASE);
}

function settingsOf(text: string): Settings {
  const result = validate(text);
  assert.ok(!('problems' in result), 'problems' in result ? result.problems.join('\n') : '');
  return result.settings;
}

function problemsOf(text: string): string[] {
  const result = validate(text);
  assert.ok('problems' in result, 'expected problems');
  return result.problems;
}

describe('validateSettings', () => {
  it("turns the original's default block into the defaults", () => {
    assert.deepEqual(settingsOf(ORIGINAL_SETTINGS_BLOCK), defaultSettings(BASE));
  });

  it('says where every value came from', () => {
    const result = validate("BULKLONG_LIMIT = 1\n\nBULKCOOLOFF_PERIOD = '10 min'");
    assert.ok('origins' in result);
    assert.equal(result.origins.BULKLONG_LIMIT, `${FILE}:1`);
    assert.equal(result.origins.BULKCOOLOFF_SECONDS, `${FILE}:3`);
    assert.equal(result.origins.BLOCKCOOLOFF_SECONDS, 'default');
    assert.equal(result.origins.WHITELIST, 'default');
    assert.equal(Object.keys(result.origins).length, Object.keys(defaultSettings(BASE)).length);
  });

  const accepted: { name: string; text: string; expect: Partial<Settings> }[] = [
    { name: "BLOCKCOOLOFF_PERIOD='1 hour'", text: "BLOCKCOOLOFF_PERIOD='1 hour'", expect: { BLOCKCOOLOFF_SECONDS: 3600 } },
    { name: "BULKCOOLOFF_PERIOD='15 min'", text: "BULKCOOLOFF_PERIOD='15 min'", expect: { BULKCOOLOFF_SECONDS: 900 } },
    { name: 'period in minutes', text: "BLOCKCOOLOFF_PERIOD = '90 minutes'", expect: { BLOCKCOOLOFF_SECONDS: 5400 } },
    { name: 'period of two parts', text: "BLOCKCOOLOFF_PERIOD = '1 hour 30 min'", expect: { BLOCKCOOLOFF_SECONDS: 5400 } },
    { name: 'period in seconds', text: "BULKCOOLOFF_PERIOD = '30 s'", expect: { BULKCOOLOFF_SECONDS: 30 } },
    { name: 'period in days', text: "BLOCKCOOLOFF_PERIOD = '2 days'", expect: { BLOCKCOOLOFF_SECONDS: 172800 } },
    { name: 'period with a decimal and no space', text: "BLOCKCOOLOFF_PERIOD = '1.5h'", expect: { BLOCKCOOLOFF_SECONDS: 5400 } },
    { name: 'windows of equal length', text: "BLOCKCOOLOFF_PERIOD = '15 min'", expect: { BLOCKCOOLOFF_SECONDS: 900, BULKCOOLOFF_SECONDS: 900 } },
    { name: 'timedelta window', text: 'BULKCOOLOFF_DELTA = timedelta(seconds=600)', expect: { BULKCOOLOFF_SECONDS: 600 } },
    {
      name: 'space-separated whitelist, canonicalized',
      text: "WHITELIST = '1.2.3.4  2001:DB8:0:0::1\t::FFFF:1.2.3.4'",
      expect: { WHITELIST: ['1.2.3.4', '2001:db8::1', '::ffff:1.2.3.4'] },
    },
    { name: 'whitelist as a tuple', text: "WHITELIST = ('1.2.3.4', '5.6.7.8')", expect: { WHITELIST: ['1.2.3.4', '5.6.7.8'] } },
    { name: 'triple-quoted whitelist', text: "WHITELIST = '''\n  1.2.3.4\n  5.6.7.8\n'''", expect: { WHITELIST: ['1.2.3.4', '5.6.7.8'] } },
    { name: 'whitelist in parentheses over lines', text: "WHITELIST = ('1.2.3.4 '\n             '5.6.7.8')", expect: { WHITELIST: ['1.2.3.4', '5.6.7.8'] } },
    { name: 'blacklist written twice as one address', text: "BLACKLIST = '1.2.3.4 1.2.3.4'", expect: { BLACKLIST: ['1.2.3.4'] } },
    { name: 'one user-agent prefix as a string', text: "UA_BLOCKLIST = ('curl/')", expect: { UA_BLOCKLIST: ['curl/'] } },
    { name: 'user-agent prefixes as a tuple', text: "UA_BLOCKLIST = ('curl/', 'Wget/')", expect: { UA_BLOCKLIST: ['curl/', 'Wget/'] } },
    { name: 'one API endpoint as a string', text: "API_ENDPOINTS = '/search'", expect: { API_ENDPOINTS: ['/search'] } },
    { name: 'float limit', text: 'BLOCK_LOADFAC = 2.5', expect: { BLOCK_LOADFAC: 2.5 } },
    { name: 'zero limit', text: 'MAX_BULK_IPS = 0', expect: { MAX_BULK_IPS: 0 } },
    { name: 'computed log size', text: 'MIN_LOG_SIZE = 2 * 1024 * 1024', expect: { MIN_LOG_SIZE: 2097152 } },
    { name: 'paths', text: "LOGFILE = '/var/log/x.log'\nLOADAVG_FILE = '/tmp/load'", expect: { LOGFILE: '/var/log/x.log', LOADAVG_FILE: '/tmp/load' } },
    { name: 'the last of two assignments', text: 'BULK_LOWER = -1\nBULK_LOWER = 7', expect: { BULK_LOWER: 7 } },
    { name: 'BASEDIR set in the file', text: "BASEDIR = '/opt'\nLOGFILE = BASEDIR + '/x.log'", expect: { LOGFILE: '/opt/x.log' } },
  ];
  for (const { name, text, expect } of accepted) {
    it(`accepts ${name}`, () => {
      assert.deepEqual(settingsOf(text), { ...defaultSettings(BASE), ...expect });
    });
  }

  const refused: { name: string; text: string; problems: string[] }[] = [
    {
      name: 'a string as a request limit',
      text: "BULKLONG_LIMIT = '8000x'",
      problems: [`${FILE}:1 BULKLONG_LIMIT: expected a number of requests (0 or more), got the string '8000x'`],
    },
    {
      name: 'a negative limit',
      text: 'BLOCK_UPPER = -1',
      problems: [`${FILE}:1 BLOCK_UPPER: expected a number of requests (0 or more), got the number -1`],
    },
    {
      name: 'a bool as a number',
      text: 'MAX_BULK_IPS = True',
      problems: [`${FILE}:1 MAX_BULK_IPS: expected a number of clients (0 or more), got True`],
    },
    {
      name: 'a fractional log size',
      text: 'MIN_LOG_SIZE = 1.5',
      problems: [`${FILE}:1 MIN_LOG_SIZE: expected a whole number of bytes (0 or more), got the number 1.5`],
    },
    {
      name: 'a typo in a key, with a suggestion',
      text: 'BULKLONG_LIMT = 8000',
      problems: [`${FILE}:1 BULKLONG_LIMT: unknown setting; did you mean BULKLONG_LIMIT?`],
    },
    {
      name: 'a lower-case key, with a suggestion',
      text: 'max_bulk_ips = 8',
      problems: [`${FILE}:1 max_bulk_ips: unknown setting; did you mean MAX_BULK_IPS?`],
    },
    { name: 'an unknown key', text: 'FOO = 1', problems: [`${FILE}:1 FOO: unknown setting`] },
    {
      name: 'an invalid whitelist entry',
      text: "WHITELIST = '1.2.3.4 1.2.3.999'",
      problems: [`${FILE}:1 WHITELIST: '1.2.3.999' is not an IPv4 or IPv6 address or network`],
    },
    {
      name: 'a network with host bits set in the blacklist',
      text: "BLACKLIST = ('10.1.0.0/8',)",
      problems: [`${FILE}:1 BLACKLIST: '10.1.0.0/8' has host bits set; the network is 10.0.0.0/8`],
    },
    {
      name: 'a number in the whitelist',
      text: 'WHITELIST = 5',
      problems: [
        `${FILE}:1 WHITELIST: expected addresses or networks, as one space-separated string or a tuple of strings such as ('192.0.2.1', '2001:db8::/32'), got the number 5`,
      ],
    },
    {
      name: 'an empty user-agent prefix',
      text: "UA_BLOCKLIST = ('curl/', '')",
      problems: [`${FILE}:1 UA_BLOCKLIST: an empty user-agent prefix would match every client`],
    },
    {
      name: 'no API endpoints',
      text: 'API_ENDPOINTS = ()',
      problems: [`${FILE}:1 API_ENDPOINTS: expected at least one path fragment, got an empty tuple`],
    },
    {
      // It names an nft table and, with `4-next` added, ipsets, which end at 31 characters.
      name: 'a firewall name nft and ipset would refuse',
      text: "FIREWALL_NAME = 'ip analyse'",
      problems: [`${FILE}:1 FIREWALL_NAME: expected a name of at most 25 letters, digits and _, starting with a letter, got the string 'ip analyse'`],
    },
    { name: 'an empty path', text: "LOGFILE = ''", problems: [`${FILE}:1 LOGFILE: expected a file path in quotes, got the string ''`] },
    {
      name: 'a string as a timedelta',
      text: "BULKCOOLOFF_DELTA = '15 min'",
      problems: [`${FILE}:1 BULKCOOLOFF_DELTA: expected a timedelta such as timedelta(hours=1), got the string '15 min'`],
    },
    {
      name: 'a zero window',
      text: 'BLOCKCOOLOFF_DELTA = timedelta(0)',
      problems: [`${FILE}:1 BLOCKCOOLOFF_DELTA: expected a duration longer than zero, got 0 seconds`],
    },
    {
      name: 'a period with an unknown unit',
      text: "BULKCOOLOFF_PERIOD = '2 hrs'",
      problems: [`${FILE}:1 BULKCOOLOFF_PERIOD: unknown unit 'hrs' in '2 hrs' (use s, min, h, d or w)`],
    },
    {
      name: 'a period without a unit',
      text: "BULKCOOLOFF_PERIOD = '900'",
      problems: [`${FILE}:1 BULKCOOLOFF_PERIOD: the number 900 has no unit in '900' (use s, min, h, d or w)`],
    },
    {
      name: 'a number as a period',
      text: 'BULKCOOLOFF_PERIOD = 900',
      problems: [`${FILE}:1 BULKCOOLOFF_PERIOD: expected a duration in quotes such as '1 hour' or '15 min', got the number 900`],
    },
    {
      name: 'both forms of one window',
      text: "BLOCKCOOLOFF_DELTA = timedelta(hours=1)\nBLOCKCOOLOFF_PERIOD = '1 hour'",
      problems: [
        `${FILE}:2 BLOCKCOOLOFF_PERIOD: BLOCKCOOLOFF_DELTA already sets the long window on line 1; give only one of BLOCKCOOLOFF_DELTA and BLOCKCOOLOFF_PERIOD`,
      ],
    },
    {
      name: 'a short window longer than the long one',
      text: "BLOCKCOOLOFF_PERIOD = '30 min'\nBULKCOOLOFF_DELTA = timedelta(hours=1)",
      problems: [
        `${FILE}:2 BULKCOOLOFF_DELTA: the short window (BULKCOOLOFF_DELTA, 1 hour) must not be longer than the long window (BLOCKCOOLOFF_PERIOD, 30 minutes)`,
      ],
    },
    {
      name: 'a long window shorter than the default short one',
      text: "BLOCKCOOLOFF_PERIOD = '10 min'",
      problems: [
        `${FILE}:1 BLOCKCOOLOFF_PERIOD: the short window (BULKCOOLOFF, 15 minutes by default) must not be longer than the long window (BLOCKCOOLOFF_PERIOD, 10 minutes)`,
      ],
    },
  ];
  for (const { name, text, problems } of refused) {
    it(`refuses ${name}`, () => assert.deepEqual(problemsOf(text), problems));
  }

  it('reports three different mistakes at once, each on its line', () => {
    const text = [
      '# three mistakes',
      'BULKLONG_LIMIT = 8000',
      "WHITELIST = '1.2.3.4 1.2.3.999'",
      '',
      'BULKSHORT_LIMT = 2000',
      "BULKCOOLOFF_PERIOD = '15 mins'",
      "BLOCKCOOLOFF_PERIOD = '1 hr'",
    ].join('\n');
    assert.deepEqual(problemsOf(text), [
      `${FILE}:3 WHITELIST: '1.2.3.999' is not an IPv4 or IPv6 address or network`,
      `${FILE}:5 BULKSHORT_LIMT: unknown setting; did you mean BULKSHORT_LIMIT?`,
      `${FILE}:7 BLOCKCOOLOFF_PERIOD: unknown unit 'hr' in '1 hr' (use s, min, h, d or w)`,
    ]);
  });
});
