/**
 * The seqs seen of one job, one bit each (a job's seqs run 1, 2, 3, ...: 1,000,000 events take
 * 125 KB), growing by doubling. It is what makes overlapping pages (history, then live, then a
 * replay after an agent restart) add each event once.
 */
export class SeqSet {
  private bits = new Uint8Array(1024);
  private _size = 0;
  private _max = 0;

  get size(): number {
    return this._size;
  }
  /** The largest seq added (0 when none). */
  get max(): number {
    return this._max;
  }

  has(seq: number): boolean {
    const byte = seq >>> 3;
    return byte < this.bits.length && (this.bits[byte] & (1 << (seq & 7))) !== 0;
  }

  /** Adds `seq`; false when it was there already. */
  add(seq: number): boolean {
    if (!Number.isInteger(seq) || seq < 0 || seq > 0xffffffff) throw new RangeError(`a seq is a whole number from 0 to 2^32-1, not ${seq}`);
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      let n = this.bits.length;
      while (n <= byte) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if (this.bits[byte] & mask) return false;
    this.bits[byte] |= mask;
    this._size++;
    if (seq > this._max) this._max = seq;
    return true;
  }
}
