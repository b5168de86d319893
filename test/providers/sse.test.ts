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

describe('parseSse field handling', () => {
  it('reads fields by name only (data, event), values after one optional space, empty values, a colon later in the value', async () => {
    const events = await collect(
      parseSse(
        pieces([
          'data\n\n', // a data field without a colon: an empty value
          'event:x\ndata:no space\ndatax: ignored\nid: 7\nretry: 10\n\n',
          'data:  two spaces keep one\n\n',
          'data: a: b: c\n\n',
          '\n\n', // blank lines without data dispatch nothing
          'event: lost\n\ndata: typeless\n\n', // an event type without data does not carry over
        ]),
      ),
    );
    assert.deepEqual(events, [
      { event: undefined, data: '' },
      { event: 'x', data: 'no space' },
      { event: undefined, data: ' two spaces keep one' },
      { event: undefined, data: 'a: b: c' },
      { event: undefined, data: 'typeless' },
    ]);
  });

  it('reads a last line without its newline as any other line', async () => {
    assert.deepEqual(await collect(parseSse(pieces(['data: one\nevent:  spaced\ndata'], undefined))), [
      { event: ' spaced', data: 'one\n' },
    ]);
  });

  it('takes strings as well as bytes, and a CRLF split across two reads', async () => {
    async function* strings() {
      yield 'data: one\r';
      yield '\n\r\ndata: two\r\n\r\n';
    }
    assert.deepEqual(await collect(parseSse(strings())), [
      { event: undefined, data: 'one' },
      { event: undefined, data: 'two' },
    ]);
  });
});
