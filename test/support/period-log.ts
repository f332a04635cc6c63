/**
 * A few hours of traffic in which clients go through every transition: a
 * client that turns bulk and then is blocked, one blocked outright, one
 * without user agent, one that flaps on and off, a whitelisted and a
 * blacklisted one, lines a little out of order, some unreadable ones.
 * Past the fourth hour, a client that sends 520 API requests in 40 minutes,
 * never 200 in 15, and falls silent: a bulk limit lowered by the load can
 * catch it while its counts stand still (from 16 to 20 minutes after its
 * last request none of its lines enters or leaves either window).
 */
import { formatLogTimestamp, mulberry32 } from './log-generator.js';

export const PERIOD_START = Date.UTC(2026, 10, 20, 9, 0, 0) / 1000;

export interface PeriodLogOptions {
  seed?: number;
  /** A crowd of this many clients with Zipf popularity beside the scripted ones, about a request a second in all, as a public API's tail. */
  crowd?: number;
  /** Minutes [from, to) since PERIOD_START without any line: logging stopped, or nobody came. */
  gaps?: [number, number][];
}

/** Minutes since PERIOD_START over which QUIET_BURST sends 13 API requests a minute. */
export const QUIET_BURST_MINUTES: [number, number] = [250, 290];
export const QUIET_BURST = '198.51.100.50';

export function periodLog(hours: number, options: PeriodLogOptions = {}): string {
  const rng = mulberry32(options.seed ?? 7);
  // Its own draws, so that the scripted clients are the same with or without it.
  const crowdRng = mulberry32(0xc40d);
  const crowd = zipfAddresses(options.crowd ?? 0, crowdRng);
  const lines: [number, string][] = [];
  const add = (time: number, ip: string, path: string, status = 200, ua = 'Mozilla/5.0 (X11; Linux x86_64)') =>
    lines.push([time, `${ip} - - [${formatLogTimestamp(time)}] "GET ${path} HTTP/1.1" ${status} 512 "-" "${ua}"`]);
  const end = PERIOD_START + hours * 3600;
  for (let minute = PERIOD_START; minute < end; minute += 60) {
    const m = (minute - PERIOD_START) / 60;
    if (options.gaps?.some(([from, to]) => m >= from && m < to)) continue;
    const burst = (ip: string, perMinute: number, ua?: string) => {
      for (let k = 0; k < perMinute; k++) add(minute + Math.floor(rng() * 60), ip, `/search?q=${k}`, rng() < 0.9 ? 200 : 404, ua);
    };
    for (let c = 0; c < 40; c++) if (rng() < 0.3) add(minute + Math.floor(rng() * 60), `203.0.113.${c + 1}`, rng() < 0.5 ? '/search?q=x' : '/ui/search.html');
    if (m >= 60 && m < 200) burst('198.51.100.7', m < 150 ? 25 : 40); // bulk, then more
    if (m >= 100 && m < 120) burst('198.51.100.8', 150); // over BLOCK_UPPER in the short window: new block
    if (m >= 90 && m < 180) burst('198.51.100.9', 16, '-'); // no user agent: ua block
    if (m >= 30 && (m % 50) < 22) burst('2001:db8::17', 18); // on and off: bulk, debulked, bulk again
    if (m % 70 === 0 && m > 0) add(minute + 3, '2001:DB8:0:0:0:0:0:17', '/reverse?lat=1'); // another spelling of the same client
    burst('10.0.0.1', 30); // whitelisted
    if (m % 3 === 0) burst('192.0.2.66', 2); // blacklisted
    if (m >= QUIET_BURST_MINUTES[0] && m < QUIET_BURST_MINUTES[1]) burst(QUIET_BURST, 13);
    for (let k = 0; crowd.length > 0 && k < 60; k++) {
      const address = crowd.draw();
      add(minute + Math.floor(crowdRng() * 60), address, crowdRng() < 0.6 ? `/search?q=${k}` : '/ui/search.html', 200, crowdRng() < 0.03 ? '-' : 'Mozilla/5.0 (Android 14)');
    }
    if (m % 17 === 0) lines.push([minute + 30, 'this is not a log line']);
    if (m % 29 === 0) add(minute + 10, 'not-an-address', '/search?q=1');
  }
  lines.sort((a, b) => a[0] - b[0]);
  // Servers log a request when it ends: a slow one comes after quicker, later ones.
  for (let i = 0; i + 1 < lines.length; i += 97) {
    const j = Math.min(lines.length - 1, i + 1 + Math.floor(rng() * 30));
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
  return lines.map(([, line]) => `${line}\n`).join('');
}

/** `count` addresses (a sixth IPv6) and a draw by Zipf popularity (exponent 1) among them. */
function zipfAddresses(count: number, rng: () => number): { length: number; draw: () => string } {
  const addresses = Array.from({ length: count }, (_, i) => (i % 6 === 5 ? `2a02:8108:${i.toString(16)}::1` : `81.${(i >> 8) & 255}.${i & 255}.7`));
  const cumulative: number[] = [];
  let sum = 0;
  for (let rank = 1; rank <= count; rank++) cumulative.push((sum += 1 / rank));
  const draw = () => {
    const target = rng() * sum;
    let low = 0;
    let high = count - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cumulative[mid] < target) low = mid + 1;
      else high = mid;
    }
    return addresses[low];
  };
  return { length: count, draw };
}
