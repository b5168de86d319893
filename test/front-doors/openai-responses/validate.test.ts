import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../../src/errors.ts';
import { validateResponsesRequest } from '../../../src/front-doors/openai-responses/index.ts';

const good = () => ({ model: 'auto', input: 'Hello' });

function refusal(body: unknown): GatewayError {
  try {
    validateResponsesRequest(body);
  } catch (error) {
    assert.ok(error instanceof GatewayError, `expected GatewayError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the body to be refused');
}

describe('Responses request validation', () => {
  test('a well-formed body comes back as is', () => {
    const body = good();
    assert.equal(validateResponsesRequest(body), body);
  });

  test('refusals are 400s in OpenAI shape with param', () => {
    const error = refusal({ model: 'auto' });
    assert.equal(error.status, 400);
    assert.deepEqual(error.toJSON(), {
      error: {
        message: 'Missing required parameter: input.',
        type: 'invalid_request_error',
        param: 'input',
        code: 'invalid_request',
      },
    });
  });

  test('built-in tools are refused by name, all of them in one message', () => {
    const error = refusal({
      ...good(),
      tools: [
        { type: 'function', name: 'ok', parameters: { type: 'object' } },
        { type: 'web_search' },
        { type: 'file_search', vector_store_ids: ['vs_1'] },
        { type: 'computer_use_preview', display_width: 1, display_height: 1, environment: 'browser' },
        { type: 'code_interpreter', container: { type: 'auto' } },
        { type: 'image_generation' },
        { type: 'mcp', server_label: 'x', server_url: 'https://x' },
        { type: 'web_search' },
      ],
    });
    assert.equal(error.param, 'tools');
    assert.equal(
      error.message,
      'Built-in tools are not supported by this gateway: web_search, file_search, computer_use_preview, code_interpreter, image_generation, mcp. Only function tools are.',
    );
  });

  const cases: Array<[string, unknown, string, RegExp]> = [
    ['not an object', 'hi', '', /JSON object/],
    ['no model', { input: 'x' }, 'model', /Missing required parameter: model/],
    [
      'unknown field',
      { ...good(), frobnicate: true },
      'frobnicate',
      /Unrecognized request argument supplied: frobnicate/,
    ],
    [
      'conversation',
      { ...good(), conversation: 'conv_1' },
      'conversation',
      /'conversation' is not supported/,
    ],
    ['prompt template', { ...good(), prompt: { id: 'pmpt_1' } }, 'prompt', /'prompt' is not supported/],
    ['top_logprobs', { ...good(), top_logprobs: 3 }, 'top_logprobs', /not supported/],
    ['background', { ...good(), background: true }, 'background', /'background' mode/],
    ['truncation auto', { ...good(), truncation: 'auto' }, 'truncation', /truncation 'disabled'/],
    ['input a number', { ...good(), input: 5 }, 'input', /string or an array/],
    ['item without type or role', { ...good(), input: [{ content: 'x' }] }, 'input[0].type', /needs a type/],
    ['bad role', { ...good(), input: [{ role: 'tool', content: 'x' }] }, 'input[0].role', /must be one of/],
    [
      'unknown item type',
      { ...good(), input: [{ type: 'computer_call_output', call_id: 'c', output: {} }] },
      'input[0].type',
      /Input item type 'computer_call_output' is not supported/,
    ],
    [
      'item reference',
      { ...good(), input: [{ type: 'item_reference', id: 'msg_1' }] },
      'input[0]',
      /Item references/,
    ],
    [
      'unknown part',
      { ...good(), input: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] },
      'input[0].content[0].type',
      /'input_audio' is not supported/,
    ],
    [
      'image by file id',
      {
        ...good(),
        input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1', detail: 'auto' }] }],
      },
      'input[0].content[0].file_id',
      /file_id references/,
    ],
    [
      'image url not a url',
      {
        ...good(),
        input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'cat.png', detail: 'auto' }] }],
      },
      'input[0].content[0].image_url',
      /http\(s\) URL or a data URL/,
    ],
    [
      'file by url',
      {
        ...good(),
        input: [{ role: 'user', content: [{ type: 'input_file', file_url: 'https://x/a.pdf' }] }],
      },
      'input[0].content[0].file_url',
      /file_url is not supported/,
    ],
    [
      'output_text in a user message',
      { ...good(), input: [{ role: 'user', content: [{ type: 'output_text', text: 'x' }] }] },
      'input[0].content[0]',
      /belong to assistant messages/,
    ],
    [
      'function_call without call_id',
      { ...good(), input: [{ type: 'function_call', name: 'f', arguments: '{}' }] },
      'input[0].call_id',
      /Missing required parameter/,
    ],
    [
      'function_call_output with a number',
      { ...good(), input: [{ type: 'function_call_output', call_id: 'c', output: 3 }] },
      'input[0].output',
      /string or an array/,
    ],
    [
      'tool name',
      { ...good(), tools: [{ type: 'function', name: 'bad name' }] },
      'tools[0].name',
      /must match/,
    ],
    [
      'tool parameters',
      { ...good(), tools: [{ type: 'function', name: 'f', parameters: 'x' }] },
      'tools[0].parameters',
      /JSON Schema object/,
    ],
    ['tool_choice string', { ...good(), tool_choice: 'any' }, 'tool_choice', /must be 'none'/],
    [
      'tool_choice built-in',
      { ...good(), tool_choice: { type: 'web_search_preview' } },
      'tool_choice.type',
      /not supported/,
    ],
    [
      'allowed_tools with a built-in',
      {
        ...good(),
        tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [{ type: 'mcp', server_label: 'x' }] },
      },
      'tool_choice.tools[0]',
      /Only function tools/,
    ],
    [
      'text.format type',
      { ...good(), text: { format: { type: 'yaml' } } },
      'text.format.type',
      /must be 'text'/,
    ],
    [
      'json_schema without name',
      { ...good(), text: { format: { type: 'json_schema', schema: {} } } },
      'text.format.name',
      /Missing required parameter/,
    ],
    ['max_output_tokens', { ...good(), max_output_tokens: 0 }, 'max_output_tokens', /positive integer/],
    ['temperature', { ...good(), temperature: 3 }, 'temperature', /between 0 and 2/],
    ['top_p', { ...good(), top_p: -0.1 }, 'top_p', /between 0 and 1/],
    ['metadata value', { ...good(), metadata: { a: 1 } }, 'metadata.a', /strings of at most 512/],
    ['store', { ...good(), store: 'yes' }, 'store', /boolean/],
    ['include', { ...good(), include: ['file_search_call.results'] }, 'include[0]', /not supported/],
  ];
  for (const [name, body, param, message] of cases) {
    test(`refused: ${name}`, () => {
      const error = refusal(body);
      assert.equal(error.status, 400);
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.param ?? '', param);
      assert.match(error.message, message);
    });
  }

  test('a function schema nested 10,000 deep is a 400, not a stack overflow', () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 10_000; i++) schema = { type: 'array', items: schema };
    const error = refusal({ ...good(), tools: [{ type: 'function', name: 'deep', parameters: schema }] });
    assert.equal(error.status, 400);
    assert.match(error.message, /nested more than 128 levels/);
    assert.match(error.param!, /^tools\.0\.parameters\.items/);
  });

  test('what Codex and the SDKs send passes: nulls, reasoning, include, prompt_cache_key, every item kind', () => {
    assert.doesNotThrow(() =>
      validateResponsesRequest({
        model: 'auto',
        instructions: 'You are a coding agent.',
        input: [
          { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'rules' }] },
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'look' },
              { type: 'input_image', image_url: 'data:image/png;base64,iVBOR', detail: 'auto' },
              { type: 'input_file', file_data: 'data:application/pdf;base64,JVBE', filename: 'a.pdf' },
            ],
          },
          { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAA' },
          {
            type: 'message',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'ok', annotations: [] }],
            id: 'msg_1',
            status: 'completed',
          },
          { type: 'function_call', call_id: 'call_1', name: 'shell', arguments: '{"cmd":"ls"}', id: 'fc_1' },
          { type: 'function_call_output', call_id: 'call_1', output: 'a.txt' },
        ],
        tools: [{ type: 'function', name: 'shell', description: null, parameters: null, strict: false }],
        tool_choice: 'auto',
        parallel_tool_calls: false,
        reasoning: { effort: 'medium', summary: 'auto' },
        include: ['reasoning.encrypted_content'],
        store: false,
        stream: true,
        prompt_cache_key: 'session-1',
        text: {
          format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true },
          verbosity: 'low',
        },
        max_output_tokens: 1000,
        temperature: null,
        top_p: null,
        previous_response_id: null,
        truncation: 'disabled',
        metadata: { team: 'a' },
        background: false,
      }),
    );
  });
});
