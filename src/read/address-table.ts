/**
 * A hash table from short byte strings (client addresses as the log spells
 * them) to int32 values, with no string and no object per key: each key
 * lives in a byte arena as a length byte, its bytes and its value (four
 * bytes), and the table is open addressing (linear probing) over an
 * Int32Array of key offsets. A lookup that finds its key reads the value from
 * the cache line it has just compared, and growing the table walks the arena
 * in order. A million keys cost about 30 bytes each.
 *
 * The arena is a list of fixed-size pages that never move: growing it copies
 * nothing, so a flood of a million new addresses never holds an old and a new
 * arena at once (an old ArrayBuffer lives on until the garbage collector
 * finds it, which made such copies the largest part of the peak memory).
 */

import { randomBytes } from 'node:crypto';

/** What `get` returns for a key that is not in the table (no value is ever this). */
export const MISSING = -0x80000000;
/** Keys are at most this long (their length is stored in one byte). */
export const MAX_KEY_BYTES = 255;

// Room for a typical hour (a few thousand clients) from the start: growing is
// cheap once the JIT has compiled it, not while a run is young.
const INITIAL_SLOTS = 8192; // a power of two
/** A page of the arena holds 1 MiB: about 70,000 addresses. Pages are zero-filled and committed by the kernel only as they are written. */
const ARENA_PAGE_SHIFT = 20;
export const ARENA_PAGE_BYTES = 1 << ARENA_PAGE_SHIFT;
const ARENA_PAGE_MASK = ARENA_PAGE_BYTES - 1;
const MAX_ARENA_BYTES = 0x7fffffff - ARENA_PAGE_BYTES; // a key's offset + 1 is an int32
const VALUE_BYTES = 4;
/**
 * FNV-1a's offset basis, mixed with a seed drawn for each process: addresses
 * come from the network, and an unseeded hash lets anyone who controls many
 * of them (an IPv6 /64 holds 2^64) pick ones that collide, and make every
 * lookup walk them all.
 */
export const FNV_OFFSET = (0x811c9dc5 ^ randomBytes(4).readInt32LE(0)) | 0;
export const FNV_PRIME = 0x01000193;

/**
 * FNV-1a over bytes [start, end) of `buf`, unfinished: the caller may compute
 * it in a loop of its own (`h = Math.imul(h ^ byte, FNV_PRIME)` from
 * FNV_OFFSET), as the log parser does while it looks for the first space.
 */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  return hashFrom(FNV_OFFSET, buf, start, end);
}

/** hashBytes from a seed: this process's, or another's, that of a table restored from its snapshot. */
function hashFrom(seed: number, buf: Uint8Array, start: number, end: number): number {
  let h = seed;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], FNV_PRIME);
  return h;
}

/**
 * A table as bytes, to be made again by another process without hashing a
 * key (an incremental run's state): its seed, its slots and its arena.
 */
export interface AddressTableSnapshot {
  seed: number;
  count: number;
  /** The bytes of each arena page that hold keys. */
  arenaPageFill: number[];
  slots: Int32Array;
  arenaPages: Uint8Array[];
}

/** Spreads FNV-1a's bits over the low ones, which pick the slot. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

export class AddressTable {
  /** Slot i holds the offset of its key in the arena + 1, or 0 when empty. */
  private slots: Int32Array = new Int32Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private count = 0;
  private growAt = Math.floor(INITIAL_SLOTS * 0.7);
  private readonly arenaPages: Buffer[] = [Buffer.alloc(ARENA_PAGE_BYTES)];
  /** How many bytes of each page hold keys: a page ends where the next key did not fit. */
  private readonly arenaPageFill: number[] = [0];
  /**
   * The seed the slots were placed by: this process's (FNV_OFFSET), whose
   * hashes callers pass in, or, for a table restored from a snapshot,
   * another process's, by which each key is hashed again here. A restored
   * table keeps its slots as they are; it is read for a few thousand lines.
   */
  private seed = FNV_OFFSET;

  /** The table `snapshot()` saved; undefined when its parts do not fit together. */
  static restore(snapshot: AddressTableSnapshot): AddressTable | undefined {
    const { slots, arenaPages, arenaPageFill } = snapshot;
    const slotCount = slots.length;
    if (slotCount < INITIAL_SLOTS || (slotCount & (slotCount - 1)) !== 0 || snapshot.count >= slotCount * 0.7 + 1) return undefined;
    if (arenaPages.length === 0 || arenaPages.length !== arenaPageFill.length) return undefined;
    const table = new AddressTable();
    table.slots = slots;
    table.mask = slotCount - 1;
    table.count = snapshot.count;
    table.growAt = Math.floor(slotCount * 0.7);
    table.seed = snapshot.seed | 0;
    table.arenaPages.length = 0;
    table.arenaPageFill.length = 0;
    for (const [i, page] of arenaPages.entries()) {
      if (page.length !== ARENA_PAGE_BYTES || !(arenaPageFill[i] >= 0 && arenaPageFill[i] <= ARENA_PAGE_BYTES)) return undefined;
      table.arenaPages.push(Buffer.from(page.buffer, page.byteOffset, page.length));
      table.arenaPageFill.push(arenaPageFill[i]);
    }
    return table;
  }

  /** The table's parts as they are (views, not copies), for restore(). */
  snapshot(): AddressTableSnapshot {
    return { seed: this.seed, count: this.count, arenaPageFill: [...this.arenaPageFill], slots: this.slots, arenaPages: this.arenaPages };
  }

  /** Number of keys. */
  get size(): number {
    return this.count;
  }

  /**
   * The value of the key `buf[start, end)`, whose hashBytes is `hash`, or
   * MISSING. The hot path: one probe, one length byte, the key's bytes.
   */
  get(buf: Uint8Array, start: number, end: number, hash: number): number {
    if (this.seed !== FNV_OFFSET) hash = hashFrom(this.seed, buf, start, end);
    const slots = this.slots;
    const pages = this.arenaPages;
    const mask = this.mask;
    const length = end - start;
    let i = mix(hash) & mask;
    for (;;) {
      const ref = slots[i];
      if (ref === 0) return MISSING;
      const page = pages[(ref - 1) >>> ARENA_PAGE_SHIFT];
      let a = (ref - 1) & ARENA_PAGE_MASK;
      if (page[a] === length) {
        a++;
        let b = start;
        while (b < end && page[a] === buf[b]) {
          a++;
          b++;
        }
        if (b === end) return page[a] | (page[a + 1] << 8) | (page[a + 2] << 16) | (page[a + 3] << 24);
      }
      i = (i + 1) & mask;
    }
  }

  /** Slot of the key, or -1; see `keyOffsetAt` and `valueAt`. */
  findSlot(buf: Uint8Array, start: number, end: number, hash: number): number {
    if (this.seed !== FNV_OFFSET) hash = hashFrom(this.seed, buf, start, end);
    const slots = this.slots;
    let i = mix(hash) & this.mask;
    for (;;) {
      const ref = slots[i];
      if (ref === 0) return -1;
      if (this.keyEquals(ref - 1, buf, start, end)) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Identifies the key in a slot: its offset in the arena, stable for the table's life. */
  keyOffsetAt(slot: number): number {
    return this.slots[slot] - 1;
  }

  valueAt(slot: number): number {
    const offset = this.slots[slot] - 1;
    const page = this.arenaPages[offset >>> ARENA_PAGE_SHIFT];
    const at = offset & ARENA_PAGE_MASK;
    return page.readInt32LE(at + 1 + page[at]);
  }

  /**
   * Adds the key `buf[start, end)`, which must not be in the table, with
   * `value`. Returns the key's offset in the arena.
   */
  insert(buf: Uint8Array, start: number, end: number, hash: number, value: number): number {
    const length = end - start;
    if (length > MAX_KEY_BYTES) throw new RangeError(`a key of ${length} bytes`);
    if (value === MISSING) throw new RangeError('MISSING is not a value');
    if (this.seed !== FNV_OFFSET) hash = hashFrom(this.seed, buf, start, end);
    if (this.count >= this.growAt) this.rehash(2 * (this.mask + 1));
    const offset = this.claimArena(1 + length + VALUE_BYTES);
    const page = this.arenaPages[offset >>> ARENA_PAGE_SHIFT];
    const at = offset & ARENA_PAGE_MASK;
    page[at] = length;
    for (let i = 0; i < length; i++) page[at + 1 + i] = buf[start + i];
    page.writeInt32LE(value, at + 1 + length);
    this.place(offset + 1, mix(hash));
    this.count++;
    return offset;
  }

  /** Copies the key at `offset`, its length byte first, into `out` at `at`; returns where it ends. */
  copyKey(offset: number, out: Uint8Array, at: number): number {
    const page = this.arenaPages[offset >>> ARENA_PAGE_SHIFT];
    const from = offset & ARENA_PAGE_MASK;
    const end = from + 1 + page[from];
    out.set(page.subarray(from, end), at);
    return at + end - from;
  }

  /** Room for `keys` keys without growing: one rehash for a known number of keys instead of one per doubling. */
  reserve(keys: number): void {
    let slotCount = this.mask + 1;
    while (Math.floor(slotCount * 0.7) <= keys) slotCount *= 2;
    if (slotCount > this.mask + 1) this.rehash(slotCount);
  }

  /** The key at `offset` (from `insert` or `keyOffsetAt`), its bytes read as latin1. */
  keyString(offset: number): string {
    const page = this.arenaPages[offset >>> ARENA_PAGE_SHIFT];
    const at = offset & ARENA_PAGE_MASK;
    return page.toString('latin1', at + 1, at + 1 + page[at]);
  }

  private keyEquals(offset: number, buf: Uint8Array, start: number, end: number): boolean {
    const page = this.arenaPages[offset >>> ARENA_PAGE_SHIFT];
    const at = offset & ARENA_PAGE_MASK;
    if (page[at] !== end - start) return false;
    for (let a = at + 1, b = start; b < end; a++, b++) if (page[a] !== buf[b]) return false;
    return true;
  }

  private place(ref: number, mixed: number): void {
    const slots = this.slots;
    let i = mixed & this.mask;
    while (slots[i] !== 0) i = (i + 1) & this.mask;
    slots[i] = ref;
  }

  /** A table of `slotCount` slots, filled by walking the arena in order (reads in sequence, not in slot order). */
  private rehash(slotCount: number): void {
    this.slots = new Int32Array(slotCount);
    this.mask = slotCount - 1;
    this.growAt = Math.floor(slotCount * 0.7);
    for (let p = 0; p < this.arenaPages.length; p++) {
      const page = this.arenaPages[p];
      const fill = this.arenaPageFill[p];
      for (let at = 0; at < fill; at += 1 + page[at] + VALUE_BYTES) {
        this.place(p * ARENA_PAGE_BYTES + at + 1, mix(hashFrom(this.seed, page, at + 1, at + 1 + page[at])));
      }
    }
  }

  /** Reserves `bytes` in the arena, in a new page when the last one has no room for them all; returns their offset. */
  private claimArena(bytes: number): number {
    const last = this.arenaPages.length - 1;
    const at = this.arenaPageFill[last];
    if (at + bytes > ARENA_PAGE_BYTES) {
      if ((last + 1) * ARENA_PAGE_BYTES > MAX_ARENA_BYTES) throw new RangeError('more keys than offsets in an Int32Array can address');
      this.arenaPages.push(Buffer.alloc(ARENA_PAGE_BYTES));
      this.arenaPageFill.push(0);
      return this.claimArena(bytes);
    }
    this.arenaPageFill[last] = at + bytes;
    return last * ARENA_PAGE_BYTES + at;
  }
}
