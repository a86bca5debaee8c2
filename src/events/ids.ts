/**
 * Event ids: UUIDv7 (RFC 9562), time-ordered so ids sort by when the event was stored. Within one
 * millisecond the 12-bit `rand_a` field is a counter started at a random value, so ids made in
 * one process are strictly increasing; on counter overflow the timestamp moves on by a
 * millisecond. Random bits come from a pooled buffer filled by the CSPRNG, which costs a tenth of
 * asking the CSPRNG for each id (ids are made on intake's hot path).
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

function randomBytes(count: number): Buffer {
  if (offset + count > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + count);
  offset += count;
  return bytes;
}

let lastMs = -1;
let counter = 0;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(now: number = Date.now()): string {
  const random = randomBytes(10);
  let ms = now;
  if (ms <= lastMs) {
    ms = lastMs;
    counter += 1;
    if (counter > 0xfff) {
      ms += 1;
      counter = random.readUInt16BE(0) & 0x7ff;
    }
  } else {
    counter = random.readUInt16BE(0) & 0x7ff;
  }
  lastMs = ms;
  const bytes = new Uint8Array(16);
  // 48-bit big-endian milliseconds (split: JS bitwise operators are 32-bit).
  const high = Math.floor(ms / 0x1_0000_0000);
  const low = ms >>> 0;
  bytes[0] = (high >>> 8) & 0xff;
  bytes[1] = high & 0xff;
  bytes[2] = (low >>> 24) & 0xff;
  bytes[3] = (low >>> 16) & 0xff;
  bytes[4] = (low >>> 8) & 0xff;
  bytes[5] = low & 0xff;
  bytes[6] = 0x70 | ((counter >>> 8) & 0x0f);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (random[2]! & 0x3f);
  for (let i = 9; i < 16; i += 1) bytes[i] = random[i - 6]!;
  let text = '';
  for (let i = 0; i < 16; i += 1) {
    text += HEX[bytes[i]!]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) text += '-';
  }
  return text;
}
