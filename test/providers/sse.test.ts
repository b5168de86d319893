import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSse, SseLineTooLong } from '../../src/providers/sse.ts';

async function* pieces(parts: string[], failAfter?: Error): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield new TextEncoder().encode(part);
  if (failAfter) throw failAfter;
}

async function collect<T>(events: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const event of events) out.push(event);
  return out;
}

describe('parseSse', () => {
  it('splits events across reads, joins multi-line data, skips comments, takes CRLF, keeps a last event without its blank line', async () => {
    const events = await collect(
      parseSse(
        pieces([
          'event: a\r\ndata: one\r\n',
          'data: two\r\n\r\n: comment\n\ndata: {"x"',
          ':1}\n\ndata: last',
        ]),
      ),
    );
    assert.deepEqual(events, [
      { event: 'a', data: 'one\ntwo' },
      { event: undefined, data: '{"x":1}' },
      { event: undefined, data: 'last' },
    ]);
  });

  it('throws a failure of the body as the caller maps it, and calls close once at the end', async () => {
    const cut = new Error('socket reset');
    let closed = 0;
    const events = parseSse(pieces(['data: one\n\n'], cut), {
      mapError: (error) => new Error(`mapped: ${(error as Error).message}`),
      close: () => closed++,
    });
    const first = await events.next();
    assert.deepEqual(first.value, { event: undefined, data: 'one' });
    await assert.rejects(events.next(), /mapped: socket reset/);
    assert.equal(closed, 1);
  });

  it('maps a refused line too, and calls close when the consumer stops early', async () => {
    const huge = `data: ${'x'.repeat(17 * 1024 * 1024)}`;
    await assert.rejects(
      collect(parseSse(pieces([huge]), { mapError: (error) => ({ wrapped: error }) })),
      (thrown: { wrapped?: unknown }) => thrown.wrapped instanceof SseLineTooLong,
    );
    let closed = 0;
    const events = parseSse(pieces(['data: one\n\ndata: two\n\n']), { close: () => closed++ });
    await events.next();
    await events.return(undefined);
    assert.equal(closed, 1);
  });
});
