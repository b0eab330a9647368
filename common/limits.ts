// Named limits on what a message, a batch and a stored record may hold (STYLE.md: a named maximum
// with its unit on everything). The edge (broker send, client producer) and the store check the
// same numbers, so a message the client accepts is one the broker can store. The record codec
// (common/record.ts) sizes its length prefixes from these, so raising one past its prefix width is
// a format change, not a setting.
import { NAME_LENGTH_MAX } from './names.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** DESIGN.md §5: bodies up to 4 MiB. Larger payloads belong in object storage with a pointer here. */
export const MESSAGE_BODY_BYTES_MAX = 4 * MiB;

/** Message ids are client-generated (about 32 characters); 128 leaves room for custom schemes. u8 prefix. */
export const MESSAGE_ID_BYTES_MAX = 128;

/** Business keys per message: each one is an index entry in level, so a message cannot fan out without bound. u8 count. */
export const MESSAGE_KEY_COUNT_MAX = 32;

/** One business key, UTF-8: it becomes part of a level key, which should stay short. u16 prefix. */
export const MESSAGE_KEY_BYTES_MAX = 255;

/** The tag, UTF-8: one word the broker filters on, hashed into the consume queue. u16 prefix. */
export const TAG_BYTES_MAX = 255;

/** User properties per message: properties are headers, not a second body. u16 count. */
export const PROPERTY_COUNT_MAX = 64;

/** One property name, UTF-8. u16 prefix. */
export const PROPERTY_KEY_BYTES_MAX = 255;

/** One property value, UTF-8. u16 prefix. */
export const PROPERTY_VALUE_BYTES_MAX = 16 * KiB;

/** All property names and values together: keeps the non-body part of a record small. */
export const PROPERTIES_BYTES_MAX = 32 * KiB;

/** Topic names: DESIGN.md §5, `[A-Za-z0-9_%-]{1,127}`. u8 prefix. */
export const TOPIC_NAME_LENGTH_MAX = NAME_LENGTH_MAX;

/** Messages in one send batch: one batch is encoded into one buffer and written at once. */
export const BATCH_MESSAGE_COUNT_MAX = 1024;

/**
 * Encoded bytes of one send batch: half the gRPC message limit (common/grpc.ts, 64 MiB), and the
 * most one append holds in memory twice (request + encoded records).
 */
export const BATCH_BYTES_MAX = 32 * MiB;

/**
 * Fixed part of a stored record (common/record.ts): header fields plus every length prefix and
 * count. Derived, not tunable.
 */
export const RECORD_OVERHEAD_BYTES = 49 + 1 + 1 + 1 + 2 + 2 + 4;

/**
 * The largest record the codec accepts: every variable field at its maximum. A record also has to
 * fit in one commit-log segment (broker/store), which lowers this for small test segments.
 */
export const RECORD_BYTES_MAX =
  RECORD_OVERHEAD_BYTES +
  TOPIC_NAME_LENGTH_MAX +
  MESSAGE_ID_BYTES_MAX +
  MESSAGE_KEY_COUNT_MAX * (2 + MESSAGE_KEY_BYTES_MAX) +
  TAG_BYTES_MAX +
  PROPERTY_COUNT_MAX * 4 +
  PROPERTIES_BYTES_MAX +
  MESSAGE_BODY_BYTES_MAX;
