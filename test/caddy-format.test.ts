import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { scanCaddyLine } from '../src/read/caddy-format.js';
import { newLogEntry } from '../src/read/line-fields.js';

/** What a scanned line gives, as text: the client, the forwarded chain, the user agent, the target, the method. */
function scan(line: string, header?: string, preferPeer = false) {
  const buf = Buffer.from(`  ${line}\n`, 'latin1');
  const out = newLogEntry();
  if (!scanCaddyLine(buf, 2, buf.length - 1, out, header === undefined ? undefined : Buffer.from(header, 'latin1'), preferPeer)) return undefined;
  const text = (start: number, end: number) => (start < 0 ? undefined : buf.toString('latin1', start, end));
  return {
    client: text(out.ipStart, out.ipEnd),
    forwarded: text(out.fwdStart, out.fwdEnd),
    userAgent: text(out.uaStart, out.uaEnd),
    target: text(out.requestStart, out.requestEnd),
    method: text(out.methodStart, out.methodEnd),
    time: out.time,
    status: out.status,
  };
}

const line = (request: string, rest = '"status":200') => `{"level":"info","ts":1795172400.5,"request":{${request}},"duration":0.01,"resp_headers":{"Server":["Caddy"]},${rest}}`;

describe('scanCaddyLine', () => {
  test('client_ip, else remote_ip, else the host of an older remote_addr: host:port, [v6]:port, or a host alone', () => {
    assert.equal(scan(line('"remote_ip":"10.0.0.5","client_ip":"198.51.100.7","uri":"/search"'))?.client, '198.51.100.7');
    assert.equal(scan(line('"remote_ip":"10.0.0.5","uri":"/search"'))?.client, '10.0.0.5');
    assert.equal(scan(line('"remote_addr":"198.51.100.8:41342","uri":"/search"'))?.client, '198.51.100.8');
    assert.equal(scan(line('"remote_addr":"[2001:db8::9]:41342","uri":"/search"'))?.client, '2001:db8::9');
    assert.equal(scan(line('"remote_addr":"2001:db8::10","uri":"/search"'))?.client, '2001:db8::10');
    assert.equal(scan(line('"remote_addr":"198.51.100.11","uri":"/search"'))?.client, '198.51.100.11');
    assert.equal(scan(line('"remote_addr":"[2001:db8::9","uri":"/search"')), undefined, 'an unclosed bracket is no address');
    assert.equal(scan(line('"uri":"/search"')), undefined, 'no address at all');
  });

  test('preferPeer takes the connection even when client_ip is there', () => {
    assert.equal(scan(line('"remote_ip":"10.0.0.5","client_ip":"198.51.100.7","uri":"/search"'), undefined, true)?.client, '10.0.0.5');
  });

  test('a forwarded-for header, in any case and order, is the chain; the peer stays the connection', () => {
    const scanned = scan(line('"remote_ip":"10.0.0.5","client_ip":"198.51.100.7","uri":"/search","headers":{"Accept":["*/*"],"x-FORWARDED-for":["203.0.113.1, 10.0.0.4"],"User-Agent":["curl/8"]}'), 'x-forwarded-for');
    assert.deepEqual([scanned?.client, scanned?.forwarded, scanned?.userAgent], ['10.0.0.5', '203.0.113.1, 10.0.0.4', 'curl/8']);
    assert.equal(scan(line('"uri":"/search","headers":{"X-Forwarded-For":["203.0.113.1"]}'), 'x-forwarded-for')?.forwarded, '203.0.113.1', 'a chain without a peer');
    assert.equal(scan(line('"remote_ip":"10.0.0.5","uri":"/search","headers":{"X-Forwarded-For":["203.0.113.1"]}'))?.forwarded, undefined, 'no header asked for');
  });

  test('the user agent is the first value of its header; without the header, an empty one', () => {
    assert.equal(scan(line('"remote_ip":"10.0.0.5","uri":"/search","headers":{"user-agent":["Mozilla/5.0", "other"]}'))?.userAgent, 'Mozilla/5.0');
    assert.equal(scan(line('"remote_ip":"10.0.0.5","uri":"/search","headers":{"User-Agent":"not an array"}'))?.userAgent, '');
    assert.equal(scan(line('"remote_ip":"10.0.0.5","uri":"/search","headers":{}'))?.userAgent, '');
  });

  test('the method, the target, the status and the time, whatever comes between them', () => {
    const scanned = scan(line('"method":"POST","nested":{"a":[1,{"b":"}"}]},"remote_ip":"10.0.0.5","uri":"/reverse?lat=1"', '"size":5,"status":503'));
    assert.deepEqual(scanned, { client: '10.0.0.5', forwarded: undefined, userAgent: '', target: '/reverse?lat=1', method: 'POST', time: 1795172400, status: 503 });
  });
});
