// Message ids in the client generator's format (common/message-id.ts) with a chosen instance and
// counter, for tests of the broker's runs of generator ids (broker/dedup/id-runs.ts).

/** 12 hex time | 12 hex instance | 8 hex counter. */
export function generatorId(instance: number, counter: number, timeMs = 0x18c_0000_0000): string {
  return timeMs.toString(16).padStart(12, '0') + instance.toString(16).padStart(12, '0') + counter.toString(16).padStart(8, '0');
}
