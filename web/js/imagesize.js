// A photo's size read from its header, before the browser is asked to decode it: a decode
// allocates width × height × 4 bytes, and a file of a few kilobytes can declare gigabytes.
// The header is read as the decoders read it (as fast_scnn_tf/data/images.py does for predict.py):
// PNG, JPEG, GIF, WebP and BMP; any other content is refused, as is a header cut short.

export const FORMATS = 'PNG, JPEG, GIF, WebP or BMP';

// How much of a file is read first: every header the page reads fits unless a JPEG carries
// large metadata before its frame header, or a GIF many frames (then the whole file is read).
const FIRST_BYTES = 256 * 1024;

/** Why a photo's size cannot be read: its message says so in a few words. */
export class SizeUnknown extends Error {}

class CutShort extends Error {}

class Reader {
  constructor(bytes) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  checked(position, size) {
    if (position < 0 || position + size > this.view.byteLength) throw new CutShort();
    return position;
  }

  u8(position) { return this.view.getUint8(this.checked(position, 1)); }
  u16be(position) { return this.view.getUint16(this.checked(position, 2), false); }
  u16le(position) { return this.view.getUint16(this.checked(position, 2), true); }
  u24le(position) { return this.u16le(position) + (this.u8(position + 2) << 16); }
  u32be(position) { return this.view.getUint32(this.checked(position, 4), false); }
  u32le(position) { return this.view.getUint32(this.checked(position, 4), true); }
  i32le(position) { return this.view.getInt32(this.checked(position, 4), true); }

  text(position, length) {
    this.checked(position, length);
    let out = '';
    for (let i = 0; i < length; i++) out += String.fromCharCode(this.view.getUint8(position + i));
    return out;
  }
}

function formatOf(reader) {
  const start = (text) => {
    try {
      return reader.text(0, text.length) === text;
    } catch {
      return false;
    }
  };
  if (start('\x89PNG\r\n\x1a\n')) return ['PNG', png];
  if (start('\xff\xd8\xff')) return ['JPEG', jpeg];
  if (start('GIF87a') || start('GIF89a')) return ['GIF', gif];
  if (start('RIFF') && reader.view.byteLength >= 12 && reader.text(8, 4) === 'WEBP') {
    return ['WebP', webp];
  }
  if (start('BM')) return ['BMP', bmp];
  return [null, null];
}

// The IHDR, which a PNG decoder requires first: width and height, 32 bits each.
function png(r) {
  if (r.text(12, 4) !== 'IHDR') throw new SizeUnknown('its PNG header does not start with IHDR');
  return {width: r.u32be(16), height: r.u32be(20)};
}

// Start-of-frame markers (SOF0 baseline, SOF2 progressive, ...); C4, C8 and CC are other segments.
const isFrame = (marker) => marker >= 0xc0 && marker <= 0xcf
  && ![0xc4, 0xc8, 0xcc].includes(marker);

// The first frame header, found as libjpeg finds markers: bytes other than 0xFF between segments
// are skipped, and so are fill bytes and a stuffed 0xFF 0x00.
function jpeg(r) {
  let position = 2;
  for (;;) {
    while (r.u8(position) !== 0xff) position += 1;
    while (r.u8(position) === 0xff) position += 1;
    const marker = r.u8(position);
    position += 1;
    if (marker === 0 || (marker >= 0xd0 && marker <= 0xd8) || marker === 0x01) continue;
    if (marker === 0xd9 || marker === 0xda) {
      throw new SizeUnknown('its JPEG header has no frame size before its data');
    }
    if (isFrame(marker)) return {height: r.u16be(position + 3), width: r.u16be(position + 5)};
    position += r.u16be(position);
  }
}

// The logical screen and every image descriptor: a decoder's canvas grows to hold a frame larger
// than the screen, so the largest of them is the size it may allocate.
function gif(r) {
  let width = r.u16le(6);
  let height = r.u16le(8);
  const flags = r.u8(10);
  let position = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);  // after the colour table
  for (;;) {
    const block = r.u8(position);
    if (block === 0x3b) return {width, height};  // the trailer
    if (block === 0x21) {  // an extension: its label, then data sub-blocks
      position += 2;
    } else if (block === 0x2c) {  // an image: left, top, width, height, flags, LZW code size
      width = Math.max(width, r.u16le(position + 5));
      height = Math.max(height, r.u16le(position + 7));
      const local = r.u8(position + 9);
      position += 10 + (local & 0x80 ? 3 << ((local & 7) + 1) : 0) + 1;
    } else {
      throw new SizeUnknown('its GIF header is garbled (a block of unknown type)');
    }
    for (let size = r.u8(position); size; size = r.u8(position)) position += 1 + size;
    position += 1;
  }
}

// The first chunk: a lossy (VP8) or lossless (VP8L) image, or the extended format's canvas (VP8X).
function webp(r) {
  const chunk = r.text(12, 4);
  if (chunk === 'VP8 ' && r.u8(23) === 0x9d && r.u8(24) === 0x01 && r.u8(25) === 0x2a) {
    return {width: r.u16le(26) & 0x3fff, height: r.u16le(28) & 0x3fff};
  }
  if (chunk === 'VP8L' && r.u8(20) === 0x2f) {
    const bits = r.u32le(21);
    return {width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1};
  }
  if (chunk === 'VP8X') return {width: r.u24le(24) + 1, height: r.u24le(27) + 1};
  throw new SizeUnknown('its WebP header is garbled (no VP8, VP8L or VP8X image first)');
}

// BITMAPCOREHEADER (12 bytes: 16-bit sizes) or a later, larger one (32-bit; a negative height is
// a top-down image).
function bmp(r) {
  if (r.u32le(14) === 12) return {width: r.u16le(18), height: r.u16le(20)};
  return {width: Math.abs(r.i32le(18)), height: Math.abs(r.i32le(22))};
}

/** {format, width, height} of an image from its bytes (its start, or the whole file). */
export function imageSize(bytes) {
  const reader = new Reader(bytes);
  const [format, read] = formatOf(reader);
  if (!format) throw new SizeUnknown(`expected a ${FORMATS} file`);
  const {width, height} = read(reader);
  if (!(width > 0 && height > 0)) {
    throw new SizeUnknown(`its ${format} header declares an empty image (${width}×${height})`);
  }
  return {format, width, height};
}

/**
 * {format, width, height} of a photo (a File or Blob), read from its first bytes, or from the
 * whole file when its header runs past them; SizeUnknown when it cannot be read.
 */
export async function photoSize(file) {
  const first = new Uint8Array(await file.slice(0, FIRST_BYTES).arrayBuffer());
  try {
    return imageSize(first);
  } catch (error) {
    if (!(error instanceof CutShort)) throw error;
  }
  try {
    if (file.size > first.length) return imageSize(new Uint8Array(await file.arrayBuffer()));
  } catch (error) {
    if (!(error instanceof CutShort)) throw error;
  }
  const [format] = formatOf(new Reader(first));
  throw new SizeUnknown(`its ${format} header is cut short`);
}
