/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made later sort later
 * (within a millisecond, a counter keeps them in order), so an index on `event_id` stays compact,
 * and 74 random bits make a collision between producers vanishingly unlikely.
 *
 * Make the id once, when the event is created, and keep it through every retry: the service drops
 * a second event with the same `(topic, event_id)` as a duplicate, which is what makes a retry safe.
 */
let lastMs = -1;
let counter = 0;

export function eventId(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  // A 12-bit counter in rand_a (method 1 of RFC 9562 §6.2) orders the ids of one millisecond.
  if (now <= lastMs) {
    counter++;
    if (counter > 0xfff) {
      lastMs++;
      counter = 0;
    }
  } else {
    lastMs = now;
    counter = bytes[6] === undefined ? 0 : (bytes[6] & 0x07) << 8; // random start, room to count up
  }
  const ms = lastMs;
  for (let i = 5; i >= 0; i--) bytes[i] = Math.floor(ms / 2 ** (8 * (5 - i))) & 0xff;
  bytes[6] = 0x70 | ((counter >> 8) & 0x0f);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
