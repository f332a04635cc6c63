/**
 * A hash table from short byte strings (client addresses as the log spells
 * them) to int32 values, with no string and no object per key: the keys live
 * in one growable byte arena, each as a length byte and its bytes, and the
 * table is open addressing (linear probing) over an Int32Array of
 * [key offset + 1, value] pairs. A million keys cost about 35 bytes each.
 */

import { randomBytes } from 'node:crypto';

/** What `get` returns for a key that is not in the table (no value is ever this). */
export const MISSING = -0x80000000;
/** Keys are at most this long (their length is stored in one byte). */
export const MAX_KEY_BYTES = 255;

// Room for a typical hour (a few thousand clients) from the start: growing is
// cheap once the JIT has compiled it, not while a run is young.
const INITIAL_SLOTS = 8192; // a power of two
const INITIAL_ARENA_BYTES = 64 * 1024;
const MAX_ARENA_BYTES = 0x7fffffff - 1; // a key's offset + 1 is an int32
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
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], FNV_PRIME);
  return h;
}

/** Spreads FNV-1a's bits over the low ones, which pick the slot. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

export class AddressTable {
  /** Slot i is slots[2i] (offset of its key in the arena + 1; 0: empty) and slots[2i + 1] (its value). */
  private slots = new Int32Array(2 * INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private count = 0;
  private growAt = Math.floor(INITIAL_SLOTS * 0.7);
  private arena: Buffer = Buffer.alloc(INITIAL_ARENA_BYTES);
  private arenaUsed = 0;

  /** Number of keys. */
  get size(): number {
    return this.count;
  }

  /**
   * The value of the key `buf[start, end)`, whose hashBytes is `hash`, or
   * MISSING. The hot path: one probe, one length byte, the key's bytes.
   */
  get(buf: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.slots;
    const arena = this.arena;
    const mask = this.mask;
    const length = end - start;
    let i = mix(hash) & mask;
    for (;;) {
      const ref = slots[2 * i];
      if (ref === 0) return MISSING;
      if (arena[ref - 1] === length) {
        let a = ref;
        let b = start;
        while (b < end && arena[a] === buf[b]) {
          a++;
          b++;
        }
        if (b === end) return slots[2 * i + 1];
      }
      i = (i + 1) & mask;
    }
  }

  /** Slot of the key, or -1; see `keyOffsetAt` and `valueAt`. */
  findSlot(buf: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.slots;
    const arena = this.arena;
    const length = end - start;
    let i = mix(hash) & this.mask;
    for (;;) {
      const ref = slots[2 * i];
      if (ref === 0) return -1;
      if (arena[ref - 1] === length && this.keyEquals(ref, buf, start, end)) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Identifies the key in a slot: its offset in the arena, stable for the table's life. */
  keyOffsetAt(slot: number): number {
    return this.slots[2 * slot] - 1;
  }

  valueAt(slot: number): number {
    return this.slots[2 * slot + 1];
  }

  /**
   * Adds the key `buf[start, end)`, which must not be in the table, with
   * `value`. Returns the key's offset in the arena.
   */
  insert(buf: Uint8Array, start: number, end: number, hash: number, value: number): number {
    const length = end - start;
    if (length > MAX_KEY_BYTES) throw new RangeError(`a key of ${length} bytes`);
    if (value === MISSING) throw new RangeError('MISSING is not a value');
    if (this.count >= this.growAt) this.rehash(2 * (this.mask + 1));
    if (this.arenaUsed + 1 + length > this.arena.length) this.growArena(1 + length);
    const offset = this.arenaUsed;
    const arena = this.arena;
    arena[offset] = length;
    for (let i = 0; i < length; i++) arena[offset + 1 + i] = buf[start + i];
    this.arenaUsed = offset + 1 + length;
    this.place(offset + 1, value, mix(hash));
    this.count++;
    return offset;
  }

  /** The key at `offset` (from `insert` or `keyOffsetAt`), its bytes read as latin1. */
  keyString(offset: number): string {
    return this.arena.toString('latin1', offset + 1, offset + 1 + this.arena[offset]);
  }

  private keyEquals(ref: number, buf: Uint8Array, start: number, end: number): boolean {
    const arena = this.arena;
    for (let a = ref, b = start; b < end; a++, b++) if (arena[a] !== buf[b]) return false;
    return true;
  }

  private place(ref: number, value: number, mixed: number): void {
    const slots = this.slots;
    let i = mixed & this.mask;
    while (slots[2 * i] !== 0) i = (i + 1) & this.mask;
    slots[2 * i] = ref;
    slots[2 * i + 1] = value;
  }

  private rehash(slotCount: number): void {
    const old = this.slots;
    this.slots = new Int32Array(2 * slotCount);
    this.mask = slotCount - 1;
    this.growAt = Math.floor(slotCount * 0.7);
    const arena = this.arena;
    for (let s = 0; s < old.length; s += 2) {
      const ref = old[s];
      if (ref === 0) continue;
      this.place(ref, old[s + 1], mix(hashBytes(arena, ref, ref + arena[ref - 1])));
    }
  }

  private growArena(atLeast: number): void {
    // By half again, not double: a flood's million keys make it megabytes.
    const needed = this.arenaUsed + atLeast;
    if (needed > MAX_ARENA_BYTES) throw new RangeError('more keys than offsets in an Int32Array can address');
    const size = Math.min(MAX_ARENA_BYTES, Math.max(needed, Math.ceil(this.arena.length * 1.5)));
    const next = Buffer.alloc(size);
    this.arena.copy(next, 0, 0, this.arenaUsed);
    this.arena = next;
  }
}
