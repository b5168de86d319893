import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../../src/errors.ts';
import {
  chatToResponse,
  conversationInput,
  type ResponsesRequest,
  responsesToChat,
  validateResponsesRequest,
} from '../../../src/front-doors/openai-responses/index.ts';
import type { ChatCompletion } from '../../../src/types/openai.ts';

function request(body: Record<string, unknown>): ResponsesRequest {
  return validateResponsesRequest({ model: 'auto', input: 'Hi', ...body });
}

/** Ids in order, so outputs are predictable. */
function counter() {
  const seen = new Map<string, number>();
  return (prefix: string) => {
    const next = (seen.get(prefix) ?? 0) + 1;
    seen.set(prefix, next);
    return `${prefix}_${next}`;
  };
}

function completion(
  message: Partial<ChatCompletion['choices'][number]['message']>,
  finish: ChatCompletion['choices'][number]['finish_reason'] = 'stop',
  usage: ChatCompletion['usage'] = { prompt_tokens: 30, completion_tokens: 8, total_tokens: 38 },
): ChatCompletion {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_710_000_000,
    model: 'gpt-4o',
    choices: [{ index: 0, message: { role: 'assistant', content: null, ...message }, finish_reason: finish }],
    usage,
  };
}

describe('Responses request -> ChatRequest', () => {
  test('a string input with instructions and parameters', () => {
    assert.deepEqual(
      responsesToChat(
        request({
          instructions: 'Be brief.',
          max_output_tokens: 200,
          temperature: 0.3,
          top_p: 0.8,
          user: 'u-1',
          metadata: { team: 'x' },
          store: true,
          reasoning: { effort: 'low', summary: 'auto' },
          prompt_cache_key: 'k1',
          service_tier: 'flex',
        }),
      ),
      {
        model: 'auto',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
        ],
        max_completion_tokens: 200,
        temperature: 0.3,
        top_p: 0.8,
        user: 'u-1',
        reasoning_effort: 'low',
        prompt_cache_key: 'k1',
        service_tier: 'flex',
      },
    );
  });

  test('items: messages, images, files, function calls and their outputs, in order', () => {
    const chat = responsesToChat(
      request({
        input: [
          { type: 'message', role: 'developer', content: 'Rules.' },
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'What is this?' },
              { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'high' },
              { type: 'input_image', image_url: 'data:image/png;base64,iVBOR', detail: 'original' },
              { type: 'input_file', file_data: 'data:application/pdf;base64,JVBE', filename: 'a.pdf' },
            ],
          },
          { type: 'reasoning', id: 'rs_1', summary: [] },
          {
            type: 'message',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'Let me check.', annotations: [] }],
          },
          { type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '{"q":"a"}' },
          { type: 'function_call', call_id: 'call_2', name: 'lookup', arguments: '{"q":"b"}' },
          { type: 'function_call_output', call_id: 'call_1', output: 'found a' },
          {
            type: 'function_call_output',
            call_id: 'call_2',
            output: [{ type: 'input_text', text: 'found b' }],
          },
          { type: 'function_call', call_id: 'call_3', name: 'done', arguments: '{}' },
          { type: 'function_call_output', call_id: 'call_3', output: 'ok' },
        ],
        tools: [
          {
            type: 'function',
            name: 'lookup',
            description: 'Find',
            parameters: { type: 'object' },
            strict: false,
          },
          { type: 'function', name: 'done', parameters: null, strict: null },
        ],
        tool_choice: { type: 'function', name: 'lookup' },
        parallel_tool_calls: false,
      }),
    );
    assert.deepEqual(chat.messages, [
      { role: 'system', content: 'Rules.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'high' } },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBOR', detail: 'high' } },
          { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE', filename: 'a.pdf' } },
        ],
      },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"a"}' } },
          { id: 'call_2', type: 'function', function: { name: 'lookup', arguments: '{"q":"b"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'found a' },
      { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'found b' }] },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'done', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'call_3', content: 'ok' },
    ]);
    assert.deepEqual(chat.tools, [
      {
        type: 'function',
        function: { name: 'lookup', description: 'Find', parameters: { type: 'object' }, strict: false },
      },
      { type: 'function', function: { name: 'done' } },
    ]);
    assert.deepEqual(chat.tool_choice, { type: 'function', function: { name: 'lookup' } });
    assert.equal(chat.parallel_tool_calls, false);
  });

  test('allowed_tools narrows the tool list; tool settings without tools are left out', () => {
    const tools = [
      { type: 'function', name: 'a', parameters: { type: 'object' } },
      { type: 'function', name: 'b', parameters: { type: 'object' } },
    ];
    const chat = responsesToChat(
      request({
        tools,
        tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'b' }] },
      }),
    );
    assert.deepEqual(
      chat.tools?.map((tool) => tool.function.name),
      ['b'],
    );
    assert.equal(chat.tool_choice, 'required');
    const bare = responsesToChat(request({ tool_choice: 'required', parallel_tool_calls: true }));
    assert.equal(bare.tool_choice, undefined);
    assert.equal(bare.parallel_tool_calls, undefined);
  });

  test('text.format becomes response_format; verbosity passes on', () => {
    assert.deepEqual(
      responsesToChat(request({ text: { format: { type: 'json_object' } } })).response_format,
      {
        type: 'json_object',
      },
    );
    const schema = {
      type: 'object',
      properties: { a: { type: 'number' } },
      required: ['a'],
      additionalProperties: false,
    };
    const chat = responsesToChat(
      request({
        text: { format: { type: 'json_schema', name: 'answer', schema, strict: true }, verbosity: 'high' },
      }),
    );
    assert.deepEqual(chat.response_format, {
      type: 'json_schema',
      json_schema: { name: 'answer', schema, strict: true },
    });
    assert.equal(chat.verbosity, 'high');
    assert.equal(responsesToChat(request({ text: { format: { type: 'text' } } })).response_format, undefined);
  });

  test('streaming asks for usage', () => {
    const chat = responsesToChat(request({ stream: true }));
    assert.equal(chat.stream, true);
    assert.deepEqual(chat.stream_options, { include_usage: true });
  });

  test('previous_response_id: the stored input and output come first, instructions do not carry over', () => {
    const first = request({ instructions: 'Old rules.', input: 'What is 2+2?' });
    const firstResponse = chatToResponse(completion({ content: '4' }), first, { newId: counter() });
    const stored = { id: firstResponse.id, input: conversationInput(first), output: firstResponse.output };
    const second = request({
      input: 'And times 3?',
      previous_response_id: firstResponse.id,
      instructions: 'New rules.',
    });
    assert.deepEqual(responsesToChat(second, { previous: stored }).messages, [
      { role: 'system', content: 'New rules.' },
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: '4' },
      { role: 'user', content: 'And times 3?' },
    ]);
  });

  test('previous_response_id without a stored response is a 400 naming it', () => {
    const orphan = request({ previous_response_id: 'resp_missing' });
    assert.throws(
      () => responsesToChat(orphan),
      (error: unknown) =>
        error instanceof GatewayError &&
        error.status === 400 &&
        error.param === 'previous_response_id' &&
        error.message === "Previous response with id 'resp_missing' not found.",
    );
  });
});

describe('ChatCompletion -> Response object', () => {
  test('a text answer: the full response object', () => {
    const req = request({ instructions: 'Be brief.', metadata: { team: 'x' }, temperature: 0.5 });
    const response = chatToResponse(
      completion({ content: 'Hello!' }, 'stop', {
        prompt_tokens: 2006,
        completion_tokens: 300,
        total_tokens: 2306,
        prompt_tokens_details: { cached_tokens: 1920 },
        completion_tokens_details: { reasoning_tokens: 120 },
      }),
      req,
      { newId: counter() },
    );
    assert.deepEqual(response, {
      id: 'resp_1',
      object: 'response',
      created_at: 1_710_000_000,
      status: 'completed',
      background: false,
      error: null,
      incomplete_details: null,
      instructions: 'Be brief.',
      max_output_tokens: null,
      metadata: { team: 'x' },
      model: 'gpt-4o',
      output: [
        {
          id: 'msg_1',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Hello!', annotations: [], logprobs: [] }],
        },
      ],
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      store: true,
      temperature: 0.5,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      top_p: null,
      truncation: 'disabled',
      usage: {
        input_tokens: 2006,
        input_tokens_details: { cached_tokens: 1920, cache_write_tokens: 0 },
        output_tokens: 300,
        output_tokens_details: { reasoning_tokens: 120 },
        total_tokens: 2306,
      },
      user: null,
    });
  });

  test('tool calls become function_call items after the message', () => {
    const response = chatToResponse(
      completion(
        {
          content: 'Checking.',
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_b', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        'tool_calls',
      ),
      request({}),
      { newId: counter() },
    );
    assert.deepEqual(response.output.slice(1), [
      {
        id: 'fc_1',
        type: 'function_call',
        status: 'completed',
        arguments: '{"city":"Paris"}',
        call_id: 'call_a',
        name: 'weather',
      },
      {
        id: 'fc_2',
        type: 'function_call',
        status: 'completed',
        arguments: '{"city":"Rome"}',
        call_id: 'call_b',
        name: 'weather',
      },
    ]);
    const toolsOnly = chatToResponse(
      completion(
        { tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        'tool_calls',
      ),
      request({}),
    );
    assert.deepEqual(
      toolsOnly.output.map((item) => item.type),
      ['function_call'],
    );
  });

  test('length and content_filter are incomplete with the reason', () => {
    const long = chatToResponse(completion({ content: 'cut' }, 'length'), request({ max_output_tokens: 16 }));
    assert.equal(long.status, 'incomplete');
    assert.deepEqual(long.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(long.output[0]!.status, 'incomplete');
    assert.equal(long.max_output_tokens, 16);
    const filtered = chatToResponse(completion({ content: '' }, 'content_filter'), request({}));
    assert.deepEqual(filtered.incomplete_details, { reason: 'content_filter' });
  });

  test('a refusal is a refusal part; Anthropic cache writes appear as cache_write_tokens', () => {
    const response = chatToResponse(
      completion({ refusal: 'No.' }, 'stop', {
        prompt_tokens: 4610,
        completion_tokens: 5,
        total_tokens: 4615,
        prompt_tokens_details: { cached_tokens: 3400, cache_write_tokens: 1200 },
      }),
      request({}),
    );
    assert.deepEqual(response.output[0]!.type === 'message' && response.output[0]!.content, [
      { type: 'refusal', refusal: 'No.' },
    ]);
    assert.deepEqual(response.usage?.input_tokens_details, { cached_tokens: 3400, cache_write_tokens: 1200 });
  });

  test('the request is echoed as OpenAI echoes it', () => {
    const response = chatToResponse(
      completion({ content: 'x' }),
      request({
        tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
        tool_choice: 'required',
        parallel_tool_calls: false,
        store: false,
        previous_response_id: null,
        text: { format: { type: 'json_object' }, verbosity: 'low' },
        reasoning: { effort: 'high' },
        user: 'u',
      }),
    );
    assert.deepEqual(response.tools, [
      { type: 'function', name: 'f', description: null, parameters: { type: 'object' }, strict: null },
    ]);
    assert.equal(response.tool_choice, 'required');
    assert.equal(response.parallel_tool_calls, false);
    assert.equal(response.store, false);
    assert.deepEqual(response.text, { format: { type: 'json_object' }, verbosity: 'low' });
    assert.deepEqual(response.reasoning, { effort: 'high', summary: null });
    assert.equal(response.user, 'u');
    assert.match(response.id, /^resp_[0-9a-f]{32}$/);
  });
});
