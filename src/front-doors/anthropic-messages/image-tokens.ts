/**
 * Image token estimates for count_tokens, by Anthropic's published rule: an image costs about
 * width × height / 750 tokens, after being scaled down so its long edge is at most 1568 px and its
 * cost at most about 1600 tokens. Dimensions are read from the image header (PNG, GIF, WebP, JPEG)
 * of a base64 image; an image whose size cannot be read (a URL, an odd format) counts the maximum.
 */

/** The most one image costs after Anthropic's downscaling. */
export const maxImageTokens = 1600;
const maxLongEdge = 1568;
/** base64 characters decoded to find a JPEG's frame header (EXIF blocks can come first). */
const jpegHeaderChars = 256 * 1024;

export function imageTokens(width: number, height: number): number {
  if (!(width > 0 && height > 0)) return maxImageTokens;
  let scale = Math.min(1, maxLongEdge / Math.max(width, height));
  const tokens = (width * scale * height * scale) / 750;
  if (tokens > maxImageTokens) scale *= Math.sqrt(maxImageTokens / tokens);
  return Math.min(maxImageTokens, Math.ceil((width * scale * height * scale) / 750));
}

/** Tokens for a base64 image, from its header. */
export function base64ImageTokens(data: string): number {
  const size = imageSize(data);
  return size ? imageTokens(size.width, size.height) : maxImageTokens;
}

/** Width and height from a base64 PNG, GIF, WebP or JPEG header; undefined if unreadable. */
export function imageSize(base64: string): { width: number; height: number } | undefined {
  const head = Buffer.from(base64.slice(0, 64), 'base64');
  if (head.length >= 24 && head.readUInt32BE(0) === 0x89504e47) {
    return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
  }
  if (head.length >= 10 && head.toString('latin1', 0, 3) === 'GIF') {
    return { width: head.readUInt16LE(6), height: head.readUInt16LE(8) };
  }
  if (
    head.length >= 30 &&
    head.toString('latin1', 0, 4) === 'RIFF' &&
    head.toString('latin1', 8, 12) === 'WEBP'
  ) {
    return webpSize(head);
  }
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xd8) {
    return jpegSize(Buffer.from(base64.slice(0, jpegHeaderChars), 'base64'));
  }
  return undefined;
}

function webpSize(head: Buffer): { width: number; height: number } | undefined {
  const chunk = head.toString('latin1', 12, 16);
  if (chunk === 'VP8X') {
    return { width: 1 + head.readUIntLE(24, 3), height: 1 + head.readUIntLE(27, 3) };
  }
  if (chunk === 'VP8L') {
    const bits = head.readUInt32LE(21);
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
  }
  if (chunk === 'VP8 ') {
    return { width: head.readUInt16LE(26) & 0x3fff, height: head.readUInt16LE(28) & 0x3fff };
  }
  return undefined;
}

/** Walks JPEG segments to the first start-of-frame marker (SOF0..SOF15 but DHT, JPG, DAC). */
function jpegSize(bytes: Buffer): { width: number; height: number } | undefined {
  let offset = 2;
  while (offset + 9 < bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset++;
      continue;
    }
    const length = bytes.readUInt16BE(offset + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return { height: bytes.readUInt16BE(offset + 5), width: bytes.readUInt16BE(offset + 7) };
    offset += 2 + length;
  }
  return undefined;
}
