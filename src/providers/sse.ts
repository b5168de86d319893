/**
 * Server-sent events parsing (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * `event:` and `data:` fields, events separated by a blank line, comments (`:`) ignored,
 * CRLF or LF line endings, multi-line data joined by "\n".
 */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/** One SSE line or event larger than this is refused: a stream that never sends a newline must not fill memory. */
export const maxEventChars = 16 * 1024 * 1024;

export class SseLineTooLong extends Error {
  constructor() {
    super(`a server-sent event over ${maxEventChars} characters`);
    this.name = 'SseLineTooLong';
  }
}

/** How a caller adapts the parse: failures mapped to its own errors, its resources released at the end. */
export interface SseOptions {
  /** What a failure (the body's, or a refused line) is thrown as. */
  mapError?: (error: unknown) => unknown;
  /** Called once the events end, however they end (done, failed, or the consumer stopped). */
  close?: () => void;
}

/** The options live in the parser, not in a wrapping generator: each generator layer costs a promise per event. */
export async function* parseSse(
  body: AsyncIterable<Uint8Array | string>,
  options: SseOptions = {},
): AsyncGenerator<SseEvent> {
  try {
    const decoder = new TextDecoder();
    let buffer = '';
    let event: string | undefined;
    let data: string[] = [];
    let dataChars = 0;

    for await (const piece of body) {
      buffer += typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
      let start = 0;
      for (;;) {
        const newline = buffer.indexOf('\n', start);
        if (newline === -1) break;
        let line = buffer.slice(start, newline);
        start = newline + 1;
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          if (data.length > 0) {
            yield { event, data: data.length === 1 ? data[0]! : data.join('\n') };
          }
          event = undefined;
          data = [];
          dataChars = 0;
          continue;
        }
        if (line.charCodeAt(0) === 58 /* ':' */) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.charCodeAt(0) === 32 /* ' ' */) value = value.slice(1);
        if (field === 'data') {
          dataChars += value.length;
          if (dataChars > maxEventChars) throw new SseLineTooLong();
          data.push(value);
        } else if (field === 'event') event = value;
      }
      buffer = start === 0 ? buffer : buffer.slice(start);
      // What is left is one unfinished line: it may not grow without end.
      if (buffer.length > maxEventChars) throw new SseLineTooLong();
    }
    buffer += decoder.decode();
    // A final event without its blank line still counts (many servers omit it at EOF).
    if (buffer.length > 0) {
      const line = buffer.endsWith('\r') ? buffer.slice(0, -1) : buffer;
      if (line.startsWith('data:')) data.push(line.slice(line.charCodeAt(5) === 32 ? 6 : 5));
      else if (line.startsWith('event:')) event = line.slice(6).trim();
    }
    if (data.length > 0) yield { event, data: data.join('\n') };
  } catch (error) {
    throw options.mapError ? options.mapError(error) : error;
  } finally {
    options.close?.();
  }
}
