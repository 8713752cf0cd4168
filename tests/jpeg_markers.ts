// Reading and rewriting the marker stream of a JPEG, for tests about what an encoder wrote and
// about hostile files.

/** One segment: its marker and where it lies, a scan's entropy-coded data included. */
export interface Segment {
  marker: number;
  start: number;
  end: number;
}

/** The segments of a JPEG from after SOI up to (not including) EOI. */
export function jpegSegments(jpeg: Uint8Array): Segment[] {
  const segments: Segment[] = [];
  for (let at = 2; at + 4 <= jpeg.length && jpeg[at + 1] !== 0xd9;) {
    const marker = jpeg[at + 1];
    let end = at + 2 + (jpeg[at + 2] << 8 | jpeg[at + 3]);
    if (marker === 0xda) {
      const isMarker = (i: number) =>
        jpeg[i] === 0xff && jpeg[i + 1] !== 0 && !(jpeg[i + 1] >= 0xd0 && jpeg[i + 1] <= 0xd7);
      while (end < jpeg.length && !isMarker(end)) end++;
    }
    segments.push({ marker, start: at, end });
    at = end;
  }
  return segments;
}

/** The frame header: whether progressive (SOF2) and each component's sampling factors. */
export function jpegFrame(jpeg: Uint8Array): { progressive: boolean; sampling: string[] } {
  const sof = jpegSegments(jpeg).find(({ marker }) =>
    marker === 0xc0 || marker === 0xc1 || marker === 0xc2
  );
  if (!sof) throw new Error("no frame header");
  const components = jpeg[sof.start + 9];
  const sampling = Array.from({ length: components }, (_, i) => {
    const factors = jpeg[sof.start + 11 + i * 3];
    return `${factors >> 4}x${factors & 15}`;
  });
  return { progressive: sof.marker === 0xc2, sampling };
}

/** How many scans (SOS segments) a JPEG has. */
export function scanCount(jpeg: Uint8Array): number {
  return jpegSegments(jpeg).filter(({ marker }) => marker === 0xda).length;
}

/** A progressive JPEG given `scans` scans in all, by repeating its last scan. */
export function withScans(jpeg: Uint8Array, scans: number): Uint8Array {
  const found = jpegSegments(jpeg).filter(({ marker }) => marker === 0xda);
  const last = found[found.length - 1];
  const extra = scans - found.length;
  if (extra < 0) throw new Error(`the JPEG already has ${found.length} scans`);
  const scan = jpeg.subarray(last.start, last.end);
  const out = new Uint8Array(jpeg.length + extra * scan.length);
  out.set(jpeg.subarray(0, last.end));
  for (let i = 0; i < extra; i++) out.set(scan, last.end + i * scan.length);
  out.set(jpeg.subarray(last.end), last.end + extra * scan.length);
  return out;
}
