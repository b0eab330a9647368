// Protobuf varints for non-negative integers below 2^53 (JS numbers): the few places that write
// protobuf bytes by hand (the producer's SendRequest encoder, the in-place Pull answer, stream
// frame headers) share these two. Division instead of shifts: shifts would cut at 2^31.

/** Bytes of the varint of a non-negative integer below 2^53. */
export function varintBytes(value: number): number {
  let bytes = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) bytes++;
  return bytes;
}

/** Writes the varint of `value` at `position`; returns the position after it. */
export function writeVarint(buf: Uint8Array, position: number, value: number): number {
  let v = value;
  let p = position;
  while (v >= 0x80) {
    buf[p++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[p++] = v;
  return p;
}
