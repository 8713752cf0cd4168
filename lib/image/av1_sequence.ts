/**
 * The largest frame an AV1 stream may code, from its sequence header: what an AV1 decoder
 * (dav1d inside libavif, libheif's) allocates for, whatever the AVIF container's `ispe` claims.
 *
 * @module
 */
import type { Size } from "./bitmap.ts";

const OBU_SEQUENCE_HEADER = 1;

/** Reads bits most significant first; every read past the end throws. */
class Bits {
  #at = 0; // in bits

  constructor(readonly bytes: Uint8Array) {}

  read(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++, this.#at++) {
      const byte = this.bytes[this.#at >> 3];
      if (byte === undefined) throw new RangeError("the sequence header is truncated");
      value = value * 2 + ((byte >> (7 - (this.#at & 7))) & 1);
    }
    return value;
  }

  /** uvlc(): a count of leading zero bits, then that many bits. */
  uvlc(): number {
    let zeros = 0;
    while (this.read(1) === 0) {
      if (++zeros >= 32) return 2 ** 32 - 1;
    }
    return this.read(zeros) + 2 ** zeros - 1;
  }
}

/** leb128(): the size field of an OBU; its value and the bytes it took. */
function leb128(bytes: Uint8Array, at: number): { value: number; length: number } {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const byte = bytes[at + i];
    if (byte === undefined) throw new RangeError("an OBU size is truncated");
    value += (byte & 0x7f) * 2 ** (7 * i);
    if (!(byte & 0x80)) return { value, length: i + 1 };
  }
  throw new RangeError("an OBU size is longer than 8 bytes");
}

/**
 * `max_frame_width_minus_1 + 1` and the height from a sequence header OBU's payload (AV1
 * specification, 5.5.1): every frame of the stream is at most that large.
 */
function sequenceMaxFrame(payload: Uint8Array): Size {
  const bits = new Bits(payload);
  bits.read(4); // seq_profile, still_picture
  const reducedStillPictureHeader = bits.read(1);
  if (reducedStillPictureHeader) {
    bits.read(5); // seq_level_idx[0]
  } else {
    let decoderModelInfo = 0;
    let bufferDelayLength = 0;
    if (bits.read(1)) { // timing_info_present_flag
      bits.read(64); // num_units_in_display_tick, time_scale
      if (bits.read(1)) bits.uvlc(); // equal_picture_interval, num_ticks_per_picture_minus_1
      decoderModelInfo = bits.read(1);
      if (decoderModelInfo) {
        bufferDelayLength = bits.read(5) + 1;
        bits.read(32 + 5 + 5); // num_units_in_decoding_tick, two time lengths
      }
    }
    const initialDisplayDelay = bits.read(1);
    const operatingPoints = bits.read(5) + 1;
    for (let i = 0; i < operatingPoints; i++) {
      bits.read(12); // operating_point_idc
      if (bits.read(5) > 7) bits.read(1); // seq_level_idx, seq_tier
      if (decoderModelInfo && bits.read(1)) bits.read(2 * bufferDelayLength + 1);
      if (initialDisplayDelay && bits.read(1)) bits.read(4);
    }
  }
  const widthBits = bits.read(4) + 1;
  const heightBits = bits.read(4) + 1;
  return { width: bits.read(widthBits) + 1, height: bits.read(heightBits) + 1 };
}

/**
 * The largest frame size the first sequence header among the OBUs of `data` (an AV1 image
 * item's bytes) allows; undefined when the OBUs before it hold none.
 *
 * @throws {RangeError} when an OBU or the sequence header is cut short
 */
export function av1MaxFrameSize(data: Uint8Array): Size | undefined {
  for (let at = 0; at < data.length;) {
    const header = data[at];
    const type = (header >> 3) & 0xf;
    const extension = (header >> 2) & 1;
    const hasSize = (header >> 1) & 1;
    at += 1 + extension;
    const size = hasSize ? leb128(data, at) : { value: data.length - at, length: 0 };
    at += size.length;
    if (type === OBU_SEQUENCE_HEADER) return sequenceMaxFrame(data.subarray(at, at + size.value));
    at += size.value;
  }
  return undefined;
}
