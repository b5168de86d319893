import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  messagesToChat,
  validateMessagesRequest,
} from '../../../src/front-doors/anthropic-messages/index.ts';
import type { MessagesRequest } from '../../../src/front-doors/anthropic-messages/types.ts';
import { anthropicBetaHeader, toAnthropicRequest } from '../../../src/providers/anthropic/convert-request.ts';
import { type ChatRequest, withoutExtensions } from '../../../src/types/openai.ts';
import { makeSpec } from '../../helpers/spec.ts';

const png =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const pdf = 'JVBERi0xLjQKMSAwIG9iago8PC9UeXBlIC9QYWdlPj4KZW5kb2JqCg==';
const ephemeral = { type: 'ephemeral' } as const;

function chat(body: Record<string, unknown>, betas?: string): ChatRequest {
  const defaults = { model: 'auto', max_tokens: 256, messages: [{ role: 'user', content: 'Hi' }] };
  return messagesToChat(validateMessagesRequest({ ...defaults, ...body }), { betas });
}

/** A Messages request using everything an Anthropic backend must get back unchanged. */
function richRequest(): MessagesRequest {
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 4096,
    system: [
      { type: 'text', text: 'You are a careful agent.' },
      { type: 'text', text: 'Project rules: be terse.', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Read these.', cache_control: ephemeral },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
          {
            type: 'image',
            source: { type: 'url', url: 'https://example.com/cat.jpg' },
            cache_control: ephemeral,
          },
          {
            type: 'document',
            source: { type: 'base64', media_type: 'application/pdf', data: pdf },
            title: 'Spec',
            context: 'the product spec',
            citations: { enabled: true },
            cache_control: ephemeral,
          },
          {
            type: 'document',
            source: { type: 'text', media_type: 'text/plain', data: 'Plain notes.' },
            title: 'Notes',
          },
          { type: 'document', source: { type: 'url', url: 'https://example.com/paper.pdf' } },
        ],
      },
      {
        role: 'assistant',
        content: [
          {
            type: 'thinking',
            thinking: 'I should look it up.',
            signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
          },
          {
            type: 'redacted_thinking',
            data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP',
          },
          { type: 'text', text: 'Looking both up.' },
          { type: 'tool_use', id: 'toolu_01A', name: 'lookup', input: { q: 'cat' } },
          {
            type: 'tool_use',
            id: 'toolu_01B',
            name: 'lookup',
            input: { q: 'dog' },
            cache_control: ephemeral,
          },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_01A', content: 'a cat' },
          {
            type: 'tool_result',
            tool_use_id: 'toolu_01B',
            content: [
              { type: 'text', text: 'not found' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
            ],
            is_error: true,
            cache_control: ephemeral,
          },
          { type: 'text', text: 'And now?' },
        ],
      },
    ],
    tools: [
      {
        name: 'lookup',
        description: 'Look something up',
        input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
        strict: true,
        eager_input_streaming: true,
      },
      { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
      { name: 'now', input_schema: { type: 'object', properties: {} }, cache_control: ephemeral },
    ],
    tool_choice: { type: 'any', disable_parallel_tool_use: true },
    stop_sequences: ['END', 'STOP'],
    temperature: 0.7,
    top_p: 0.9,
    top_k: 40,
    metadata: { user_id: 'user-7f3a' },
    thinking: { type: 'enabled', budget_tokens: 2048 },
    cache_control: ephemeral,
    output_config: { effort: 'high' },
    service_tier: 'standard_only',
  };
}

describe('Messages request -> ChatRequest', () => {
  test('system, text, images, documents, tool calls, tool results and parameters map to Chat Completions', () => {
    const request = chat(
      richRequest() as unknown as Record<string, unknown>,
      'prompt-caching-2024-07-31, interleaved-thinking-2025-05-14',
    );
    const plain = withoutExtensions(request);
    assert.deepEqual(plain, {
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      temperature: 0.7,
      top_p: 0.9,
      stop: ['END', 'STOP'],
      user: 'user-7f3a',
      tool_choice: 'required',
      parallel_tool_calls: false,
      messages: [
        {
          role: 'system',
          content: [
            { type: 'text', text: 'You are a careful agent.' },
            { type: 'text', text: 'Project rules: be terse.' },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Read these.' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
            { type: 'file', file: { file_data: `data:application/pdf;base64,${pdf}`, filename: 'Spec' } },
            { type: 'text', text: 'Plain notes.' },
            { type: 'file', file: { file_data: 'https://example.com/paper.pdf', filename: 'document.pdf' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Looking both up.',
          tool_calls: [
            { id: 'toolu_01A', type: 'function', function: { name: 'lookup', arguments: '{"q":"cat"}' } },
            { id: 'toolu_01B', type: 'function', function: { name: 'lookup', arguments: '{"q":"dog"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01A', content: 'a cat' },
        {
          role: 'tool',
          tool_call_id: 'toolu_01B',
          content: [
            { type: 'text', text: 'not found' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
          ],
        },
        { role: 'user', content: [{ type: 'text', text: 'And now?' }] },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'lookup',
            description: 'Look something up',
            parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
          },
        },
        { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } },
      ],
    });
    // No extension survives withoutExtensions, at any depth.
    assert.doesNotMatch(JSON.stringify(plain), /cache_control|thinking|anthropic|is_error/);
    assert.deepEqual(request.anthropic, {
      top_k: 40,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      cache_control: ephemeral,
      betas: ['prompt-caching-2024-07-31', 'interleaved-thinking-2025-05-14'],
      builtin_tools: [
        { position: 1, tool: { type: 'web_search_20250305', name: 'web_search', max_uses: 3 } },
      ],
      passthrough: { output_config: { effort: 'high' }, service_tier: 'standard_only' },
    });
    assert.equal(anthropicBetaHeader(request), 'prompt-caching-2024-07-31,interleaved-thinking-2025-05-14');
  });

  test('round trip to an Anthropic backend: the body that reaches Anthropic is the one the client sent', () => {
    const original = richRequest();
    const spec = makeSpec({ provider: 'anthropic', upstreamModel: 'claude-sonnet-4-5-20250929' });
    const sent = toAnthropicRequest(
      messagesToChat(validateMessagesRequest(structuredClone(original))),
      spec,
      false,
    );
    assert.deepEqual(sent, { ...original, model: 'claude-sonnet-4-5-20250929' });
  });

  test('a streamed request asks for usage and streams upstream', () => {
    const request = chat({ stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(request.stream, true);
    assert.deepEqual(request.stream_options, { include_usage: true });
    const spec = makeSpec({ provider: 'anthropic' });
    assert.equal(toAnthropicRequest(request, spec, true).stream, true);
  });

  test('string contents stay strings; a system string stays a string upstream', () => {
    const request = chat({
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'user', content: 'Bye' },
      ],
    });
    assert.deepEqual(request.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Bye' },
    ]);
    assert.equal(toAnthropicRequest(request, makeSpec({ provider: 'anthropic' }), false).system, 'Be brief.');
  });

  test('a user turn mixing tool results and text keeps its order', () => {
    const request = chat({
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'a', input: {} }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: 'one' },
            { type: 'text', text: 'between' },
            { type: 'tool_result', tool_use_id: 't2' },
            { type: 'text', text: 'after' },
          ],
        },
      ],
    });
    assert.deepEqual(request.messages.slice(1), [
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 't1', type: 'function', function: { name: 'a', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 't1', content: 'one' },
      { role: 'user', content: [{ type: 'text', text: 'between' }] },
      { role: 'tool', tool_call_id: 't2', content: '' },
      { role: 'user', content: [{ type: 'text', text: 'after' }] },
    ]);
  });

  test('tool_choice variants', () => {
    const tools = [{ name: 'get', input_schema: { type: 'object' } }];
    assert.equal(chat({ tools, tool_choice: { type: 'auto' } }).tool_choice, 'auto');
    assert.equal(chat({ tools, tool_choice: { type: 'none' } }).tool_choice, 'none');
    assert.equal(chat({ tools, tool_choice: { type: 'any' } }).tool_choice, 'required');
    const forced = chat({
      tools,
      tool_choice: { type: 'tool', name: 'get', disable_parallel_tool_use: true },
    });
    assert.deepEqual(forced.tool_choice, { type: 'function', function: { name: 'get' } });
    assert.equal(forced.parallel_tool_calls, false);
    assert.equal(chat({ tools, tool_choice: { type: 'auto' } }).parallel_tool_calls, undefined);
    // Without function tools Chat Completions refuses tool_choice; only an Anthropic backend gets it.
    const builtinOnly = chat({
      tools: [{ type: 'bash_20250124', name: 'bash' }],
      tool_choice: { type: 'any' },
    });
    assert.equal(builtinOnly.tool_choice, undefined);
    assert.equal(builtinOnly.tools, undefined);
    const sent = toAnthropicRequest(builtinOnly, makeSpec({ provider: 'anthropic' }), false);
    assert.deepEqual(sent.tools, [{ type: 'bash_20250124', name: 'bash' }]);
    assert.deepEqual(sent.tool_choice, { type: 'any' });
  });

  test('role system messages inside messages join the system prompt; a tool input that was invalid JSON comes back as text', () => {
    const request = chat({
      messages: [
        { role: 'system', content: 'Extra rule.' },
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 't', name: 'f', input: { _raw_arguments: '{broken' } }],
        },
      ],
    });
    assert.deepEqual(request.messages[0], { role: 'system', content: 'Extra rule.' });
    assert.equal(request.messages[2]!.tool_calls![0]!.function.arguments, '{broken');
  });

  test('structured outputs become response_format', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const request = chat({ output_config: { format: { type: 'json_schema', schema } } });
    assert.deepEqual(request.response_format, {
      type: 'json_schema',
      json_schema: { name: 'output', schema, strict: true },
    });
  });

  test('withoutExtensions returns a request without extensions as the same object', () => {
    const plain: ChatRequest = {
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }],
    };
    assert.equal(withoutExtensions(plain), plain);
    const marked: ChatRequest = {
      model: 'm',
      messages: [
        { role: 'system', content: 'a', cache_control: ephemeral },
        { role: 'user', content: 'b' },
      ],
    };
    const stripped = withoutExtensions(marked);
    assert.deepEqual(stripped.messages, [
      { role: 'system', content: 'a' },
      { role: 'user', content: 'b' },
    ]);
    assert.equal(stripped.messages[1], marked.messages[1], 'unchanged messages are shared, not copied');
    assert.deepEqual(
      marked.messages[0],
      { role: 'system', content: 'a', cache_control: ephemeral },
      'input untouched',
    );
  });

  test('an OpenAI-format client may set cache_control on whole messages: the last block gets it', () => {
    const request: ChatRequest = {
      model: 'm',
      messages: [
        { role: 'system', content: 'Long rules', cache_control: ephemeral },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
          cache_control: ephemeral,
        },
      ],
    };
    const sent = toAnthropicRequest(request, makeSpec({ provider: 'anthropic' }), false);
    assert.deepEqual(sent.system, [{ type: 'text', text: 'Long rules', cache_control: ephemeral }]);
    assert.deepEqual(sent.messages[0]!.content, [
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b', cache_control: ephemeral },
    ]);
  });

  test('thinking blocks without a signature (from reasoning text) are not sent to Anthropic', () => {
    const request: ChatRequest = {
      model: 'm',
      messages: [
        { role: 'user', content: 'q' },
        {
          role: 'assistant',
          content: 'a',
          thinking_blocks: [{ type: 'thinking', thinking: 'hm', signature: '' }],
        },
        { role: 'user', content: 'again' },
      ],
    };
    const sent = toAnthropicRequest(request, makeSpec({ provider: 'anthropic' }), false);
    assert.deepEqual(sent.messages[1]!.content, [{ type: 'text', text: 'a' }]);
  });
});
