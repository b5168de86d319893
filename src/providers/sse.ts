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

/** Decoder options for a piece of a longer body (one object, not one per read). */
const streaming = { stream: true };

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
    // An event's data lines: the first one alone (the common case), more in `moreData`.
    let data: string | undefined;
    let moreData: string[] | undefined;
    let dataChars = 0;
    const addData = (value: string) => {
      dataChars += value.length;
      if (dataChars > maxEventChars) throw new SseLineTooLong();
      if (data === undefined) data = value;
      else if (moreData === undefined) moreData = [value];
      else moreData.push(value);
    };
    const take = (): SseEvent | undefined => {
      if (data === undefined) return undefined;
      const whole: SseEvent = { event, data: moreData ? [data, ...moreData].join('\n') : data };
      event = undefined;
      data = undefined;
      moreData = undefined;
      dataChars = 0;
      return whole;
    };

    /** One line of `buffer` (its end without the CR): the event it completes, if any. */
    const readLine = (lineStart: number, lineEnd: number): SseEvent | undefined => {
      if (lineEnd === lineStart) {
        const whole = take();
        event = undefined;
        return whole;
      }
      if (buffer.charCodeAt(lineStart) === 58 /* ':' */) return undefined;
      // Fields are read off the buffer by position: one slice per value, none per line.
      const colon = buffer.indexOf(':', lineStart);
      const fieldEnd = colon === -1 || colon > lineEnd ? lineEnd : colon;
      let valueStart = fieldEnd === lineEnd ? lineEnd : fieldEnd + 1;
      if (valueStart < lineEnd && buffer.charCodeAt(valueStart) === 32 /* ' ' */) valueStart++;
      const fieldLength = fieldEnd - lineStart;
      if (fieldLength === 4 && buffer.startsWith('data', lineStart)) {
        addData(buffer.slice(valueStart, lineEnd));
      } else if (fieldLength === 5 && buffer.startsWith('event', lineStart)) {
        event = buffer.slice(valueStart, lineEnd);
      }
      return undefined;
    };

    for await (const piece of body) {
      buffer += typeof piece === 'string' ? piece : decoder.decode(piece, streaming);
      let start = 0;
      for (;;) {
        const newline = buffer.indexOf('\n', start);
        if (newline === -1) break;
        const lineEnd =
          newline > start && buffer.charCodeAt(newline - 1) === 13 /* '\r' */ ? newline - 1 : newline;
        const whole = readLine(start, lineEnd);
        start = newline + 1;
        if (whole) yield whole;
      }
      buffer = start === 0 ? buffer : buffer.slice(start);
      // What is left is one unfinished line: it may not grow without end.
      if (buffer.length > maxEventChars) throw new SseLineTooLong();
    }
    buffer += decoder.decode();
    // A final line without its newline, and a final event without its blank line, still count
    // (many servers omit them at EOF).
    if (buffer.length > 0) readLine(0, buffer.endsWith('\r') ? buffer.length - 1 : buffer.length);
    const last = take();
    if (last) yield last;
  } catch (error) {
    throw options.mapError ? options.mapError(error) : error;
  } finally {
    options.close?.();
  }
}
