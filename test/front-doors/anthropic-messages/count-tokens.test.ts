import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  imageSize,
  imageTokens,
  maxImageTokens,
} from '../../../src/front-doors/anthropic-messages/image-tokens.ts';
import { AnthropicApiError, countMessagesTokens } from '../../../src/front-doors/anthropic-messages/index.ts';
import { countTokens } from '../../../src/routing/tokenizer.ts';

const exact = (text: string) => countTokens(text, { exactChars: 1_000_000 }).tokens;

function png(width: number, height: number): string {
  const bytes = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes, 0);
  bytes.writeUInt32BE(13, 8);
  bytes.write('IHDR', 12, 'latin1');
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  return bytes.toString('base64');
}

function jpeg(width: number, height: number): string {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const sof = Buffer.alloc(19);
  sof.writeUInt16BE(0xffc0, 0);
  sof.writeUInt16BE(17, 2);
  sof[4] = 8;
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof]).toString('base64');
}

function gif(width: number, height: number): string {
  const bytes = Buffer.alloc(13);
  bytes.write('GIF89a', 0, 'latin1');
  bytes.writeUInt16LE(width, 6);
  bytes.writeUInt16LE(height, 8);
  return bytes.toString('base64');
}

function webpExtended(width: number, height: number): string {
  const bytes = Buffer.alloc(30);
  bytes.write('RIFF', 0, 'latin1');
  bytes.write('WEBP', 8, 'latin1');
  bytes.write('VP8X', 12, 'latin1');
  bytes.writeUIntLE(width - 1, 24, 3);
  bytes.writeUIntLE(height - 1, 27, 3);
  return bytes.toString('base64');
}

describe('count_tokens', () => {
  test('text: system, messages, per-message framing', () => {
    const result = countMessagesTokens({
      model: 'auto',
      system: 'You are terse.',
      messages: [
        { role: 'user', content: 'What is the capital of France?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Paris.' }] },
      ],
    });
    const expected =
      exact('You are terse.') + exact('What is the capital of France?') + exact('Paris.') + 2 * 3;
    assert.deepEqual(result, { input_tokens: expected });
  });

  test('tools add their definitions and the tool-use system prompt allowance', () => {
    const base = { model: 'auto', messages: [{ role: 'user', content: 'hi' }] };
    const tool = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object' } };
    const without = countMessagesTokens(base).input_tokens;
    const withTool = countMessagesTokens({ ...base, tools: [tool] }).input_tokens;
    const definition = exact('get_weather') + exact('Weather for a city') + exact('{"type":"object"}');
    assert.equal(withTool - without, 300 + definition);
  });

  test('tool_use and tool_result content count; earlier thinking does not', () => {
    const body = {
      model: 'auto',
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: [
            {
              type: 'thinking',
              thinking: 'a long private plan that Anthropic drops from context',
              signature: 's',
            },
            { type: 'tool_use', id: 't', name: 'search', input: { q: 'cats' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'three cats' }] },
      ],
    };
    const expected = exact('go') + exact('search') + exact('{"q":"cats"}') + exact('three cats') + 3 * 3;
    assert.equal(countMessagesTokens(body).input_tokens, expected);
  });

  test('images count by their size, read from the header', () => {
    assert.deepEqual(imageSize(png(2000, 1000)), { width: 2000, height: 1000 });
    assert.deepEqual(imageSize(jpeg(640, 480)), { width: 640, height: 480 });
    assert.deepEqual(imageSize(gif(300, 200)), { width: 300, height: 200 });
    assert.deepEqual(imageSize(webpExtended(1024, 768)), { width: 1024, height: 768 });
    assert.equal(imageSize('bm90IGFuIGltYWdl'), undefined);
    // 200x200 = 40,000 px / 750 = 53.3 -> 54; a large image is capped near 1600.
    assert.equal(imageTokens(200, 200), 54);
    assert.equal(imageTokens(1000, 1000), 1334);
    assert.equal(imageTokens(4000, 3000), maxImageTokens);
    const body = (source: object) => ({
      model: 'auto',
      messages: [{ role: 'user', content: [{ type: 'image', source }] }],
    });
    assert.equal(
      countMessagesTokens(body({ type: 'base64', media_type: 'image/png', data: png(200, 200) }))
        .input_tokens,
      54 + 3,
    );
    assert.equal(
      countMessagesTokens(body({ type: 'url', url: 'https://example.com/x.png' })).input_tokens,
      maxImageTokens + 3,
    );
  });

  test('a PDF counts per page', () => {
    const pdf = Buffer.from(
      '%PDF-1.4 1 0 obj <</Type /Pages /Count 2>> 2 0 obj <</Type /Page>> 3 0 obj <</Type/Page>>',
    ).toString('base64');
    const result = countMessagesTokens({
      model: 'auto',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } },
          ],
        },
      ],
    });
    assert.equal(result.input_tokens, 2 * 1500 + 3);
  });

  test('a malformed body is a 400 in Anthropic shape', () => {
    assert.throws(
      () => countMessagesTokens({ model: 'auto', messages: 'hi' }),
      (error: unknown) => error instanceof AnthropicApiError && error.status === 400,
    );
  });
});
