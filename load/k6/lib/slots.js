/**
 * The layout of a run's events: which slot sends which event, and which slots are duplicates.
 * Everything here is a pure function of the run id, the slot number and the settings, so a VU can
 * rebuild any earlier event byte for byte and the teardown can compute the expected counts.
 *
 * Duplicate slots are spread evenly (Bresenham): slot `s` is a duplicate when
 * `floor((s+1)·r) > floor(s·r)`, so exactly `floor(M·r)` of the slots `0 … M-1` are duplicates
 * and slot 0 never is. The ratio is held as an integer over RATIO_SCALE to keep that exact.
 */

/** DUP_RATIO is rounded to 1/RATIO_SCALE. */
export const RATIO_SCALE = 10000;

/** Source field of every event the scripts send. */
export const SOURCE = 'k6-load';

/**
 * @param {number} slot
 * @param {number} dupScaled
 * @returns {boolean}
 */
export function isDuplicateSlot(slot, dupScaled) {
  return Math.floor(((slot + 1) * dupScaled) / RATIO_SCALE) > Math.floor((slot * dupScaled) / RATIO_SCALE);
}

/**
 * The nearest fresh slot before `slot` (slot 0 is always fresh, so there is one for slot ≥ 1).
 * @param {number} slot
 * @param {number} dupScaled
 * @returns {number}
 */
export function previousFreshSlot(slot, dupScaled) {
  let s = slot - 1;
  while (s > 0 && isDuplicateSlot(s, dupScaled)) s--;
  return Math.max(s, 0);
}

/**
 * Topic `i` of the run (`k6-<run>-t<i>`).
 * @param {string} runId
 * @param {number} index
 * @returns {string}
 */
export function runTopic(runId, index) {
  return `k6-${runId}-t${index}`;
}

/**
 * Where a VU records possible redeliveries (see publishIteration.js).
 * @param {string} runId
 * @returns {string}
 */
export function ledgerTopic(runId) {
  return `k6-${runId}-ledger`;
}

/**
 * @param {string} runId
 * @param {number} slot
 * @returns {string}
 */
function eventIdOf(runId, slot) {
  return `${runId}-${slot}`;
}

/**
 * The slot an event id of this run names, or -1 for anything else.
 * @param {string} runId
 * @param {string} eventId
 * @returns {number}
 */
export function slotOfEventId(runId, eventId) {
  const prefix = `${runId}-`;
  if (!eventId.startsWith(prefix)) return -1;
  const digits = eventId.slice(prefix.length);
  return /^(0|[1-9]\d{0,14})$/.test(digits) ? Number(digits) : -1;
}

/**
 * The event of fresh slot `slot`: always the same for the same run and settings.
 * @param {import('./types.js').RunData} run
 * @param {import('./types.js').Settings} settings
 * @param {number} slot
 * @returns {import('./types.js').Event}
 */
export function slotEvent(run, settings, slot) {
  /** @type {import('./types.js').Event['payload']} */
  const payload = { run: run.runId, slot };
  if (settings.payloadBytes > 0) payload.filler = 'x'.repeat(settings.payloadBytes);
  return {
    topic: runTopic(run.runId, slot % settings.topics),
    event_id: eventIdOf(run.runId, slot),
    // One millisecond per slot from the start of the run: plausible, and reproducible on re-send.
    timestamp: new Date(run.startedAtMs + slot).toISOString(),
    source: SOURCE,
    payload,
  };
}
