/**
 * The client behind proxies and CDNs: the address the web server itself
 * will look the map up with, found in a forwarded-for chain as nginx's
 * realip module (`real_ip_recursive on`) and Apache's mod_remoteip do.
 *
 * The chain is the header's addresses followed by the connecting address.
 * Walked from the right: while the address in hand is a trusted proxy, the
 * next one to its left is taken; the first untrusted address is the client.
 * A connecting address that is not trusted is therefore the client whatever
 * the header says, so a client cannot pick its own address by sending the
 * header. When every address is trusted the leftmost is the client; an entry
 * that is not an address ends the walk at the address in hand, as in nginx.
 */
import type { AddressList } from '../address/address-list.js';
import { canonicalizeIp } from '../address/ip-address.js';
import { AddressTable, MAX_KEY_BYTES, MISSING, hashBytes } from './address-table.js';
import { DASH, type LogEntry, SPACE } from './line-fields.js';

const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const TRUSTED = 1;
const UNTRUSTED = 0;
const NOT_AN_ADDRESS = -1;

export class ClientResolver {
  /** Each spelling seen, to TRUSTED, UNTRUSTED or NOT_AN_ADDRESS: a chain costs no string once its addresses are known. */
  private readonly seen = new AddressTable();
  /** The address previousEntry found, and where its entry starts (before a `[`). */
  private start = 0;
  private end = 0;
  private entryStart = 0;

  /** `trusted`: TRUSTED_PROXIES; undefined when none are configured, and the header's last address is the client. */
  constructor(private readonly trusted: AddressList | undefined) {}

  /**
   * Sets [ipStart, ipEnd) and ipHash of a scanned line to its client's
   * address. Returns false when the line names no client at all (no
   * connecting address in the format, and no header).
   */
  resolve(buf: Buffer, entry: LogEntry): boolean {
    let fwdEnd = entry.fwdStart < 0 ? -1 : entry.fwdEnd;
    const fwdStart = entry.fwdStart;
    // `-` (Apache, nginx) or an empty value (escape=json, Caddy): no header.
    if (fwdEnd >= 0 && (fwdEnd === fwdStart || (fwdEnd - fwdStart === 1 && buf[fwdStart] === DASH))) fwdEnd = -1;
    const hasPeer = entry.ipStart >= 0;
    if (fwdEnd < 0) return hasPeer;
    if (this.trusted === undefined) {
      // No proxies named: the header is believed, its last address being the one the nearest proxy added.
      if (!this.previousEntry(buf, fwdStart, fwdEnd) || this.kindOf(buf, this.start, this.end) === NOT_AN_ADDRESS) return hasPeer;
      return this.take(buf, entry);
    }
    // The address in hand: the connecting one, or, when the format logs none, the header's last.
    let at = fwdEnd;
    let kind: number;
    if (hasPeer) {
      this.start = entry.ipStart;
      this.end = entry.ipEnd;
      kind = this.kindOf(buf, this.start, this.end);
    } else {
      if (!this.previousEntry(buf, fwdStart, at)) return false;
      at = this.entryStart;
      kind = this.kindOf(buf, this.start, this.end);
      if (kind === NOT_AN_ADDRESS) return false;
    }
    // Each address of the chain looked up once: the kind found for an entry is the next step's.
    while (kind === TRUSTED) {
      const handStart = this.start;
      const handEnd = this.end;
      if (!this.previousEntry(buf, fwdStart, at)) break;
      at = this.entryStart;
      kind = this.kindOf(buf, this.start, this.end);
      if (kind === NOT_AN_ADDRESS) {
        this.start = handStart;
        this.end = handEnd;
        break;
      }
    }
    return this.take(buf, entry);
  }

  private take(buf: Buffer, entry: LogEntry): boolean {
    entry.ipStart = this.start;
    entry.ipEnd = this.end;
    entry.ipHash = hashBytes(buf, this.start, this.end);
    return true;
  }

  /**
   * The entry of the chain [from, before) nearest to `before`: its address
   * (a port and IPv6 brackets taken off) into start/end. False when none is left.
   */
  private previousEntry(buf: Buffer, from: number, before: number): boolean {
    let e = before;
    while (e > from && (buf[e - 1] === SPACE || buf[e - 1] === COMMA)) e--;
    if (e === from) return false;
    let s = e;
    while (s > from && buf[s - 1] !== SPACE && buf[s - 1] !== COMMA) s--;
    // The whole entry first, so that the walk goes on from its start.
    let addressStart = s;
    let addressEnd = e;
    if (buf[s] === OPEN_BRACKET) {
      const close = buf.indexOf(CLOSE_BRACKET, s);
      if (close > s && close < e) {
        addressStart = s + 1;
        addressEnd = close;
      }
    } else {
      const colon = buf.indexOf(COLON, s);
      // One colon: IPv4 with a port; more are IPv6.
      if (colon > s && colon < e && (buf.indexOf(COLON, colon + 1) < 0 || buf.indexOf(COLON, colon + 1) >= e)) addressEnd = colon;
    }
    this.start = addressStart;
    this.end = addressEnd;
    // Where the walk continues: before this entry.
    this.entryStart = s;
    return true;
  }

  private kindOf(buf: Buffer, start: number, end: number): number {
    if (end - start > MAX_KEY_BYTES || end <= start) return NOT_AN_ADDRESS;
    const hash = hashBytes(buf, start, end);
    const known = this.seen.get(buf, start, end, hash);
    if (known !== MISSING) return known;
    const address = canonicalizeIp(buf.toString('latin1', start, end));
    const kind = address === undefined ? NOT_AN_ADDRESS : this.trusted?.has(address) ? TRUSTED : UNTRUSTED;
    this.seen.insert(buf, start, end, hash, kind);
    return kind;
  }
}
