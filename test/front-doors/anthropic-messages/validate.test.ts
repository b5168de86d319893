import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError, UpstreamError } from '../../../src/errors.ts';
import {
  AnthropicApiError,
  anthropicErrorTypeForStatus,
  toAnthropicError,
  validateMessagesRequest,
} from '../../../src/front-doors/anthropic-messages/index.ts';

const good = () => ({
  model: 'auto',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'Hello' }],
});

/** The AnthropicApiError a body is refused with. */
function refusal(body: unknown, options?: { countTokens?: boolean }): AnthropicApiError {
  try {
    validateMessagesRequest(body, options);
  } catch (error) {
    assert.ok(error instanceof AnthropicApiError, `expected AnthropicApiError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the body to be refused');
}

function nested(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) schema = { type: 'object', properties: { inner: schema } };
  return schema;
}

describe('Messages request validation', () => {
  test('a well-formed body comes back as is', () => {
    const body = good();
    assert.equal(validateMessagesRequest(body), body);
  });

  test('refusals are 400 invalid_request_error in Anthropic shape, naming the field', () => {
    const error = refusal({ ...good(), max_tokens: undefined });
    assert.equal(error.status, 400);
    assert.deepEqual(error.toJSON(), {
      type: 'error',
      error: { type: 'invalid_request_error', message: 'max_tokens: Field required' },
    });
    assert.deepEqual(error.toJSON('req_1').request_id, 'req_1');
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['not an object', [1, 2], /JSON object/],
    ['no model', { max_tokens: 5, messages: [] }, /^model: Field required/],
    ['max_tokens a string', { ...good(), max_tokens: '5' }, /^max_tokens: Input should be a valid integer/],
    ['max_tokens negative', { ...good(), max_tokens: -1 }, /^max_tokens: .*greater than or equal to 0/],
    ['messages missing', { model: 'm', max_tokens: 5 }, /^messages: Field required/],
    ['messages not a list', { ...good(), messages: {} }, /^messages: Input should be a valid list/],
    ['messages empty', { ...good(), messages: [] }, /^messages: at least one message/],
    ['bad role', { ...good(), messages: [{ role: 'tool', content: 'x' }] }, /^messages\.0\.role:/],
    ['content a number', { ...good(), messages: [{ role: 'user', content: 5 }] }, /^messages\.0\.content:/],
    [
      'unknown block type',
      { ...good(), messages: [{ role: 'user', content: [{ type: 'server_tool_use' }] }] },
      /^messages\.0\.content\.0\.type: content block type 'server_tool_use' is not supported/,
    ],
    [
      'text block without text',
      { ...good(), messages: [{ role: 'user', content: [{ type: 'text' }] }] },
      /^messages\.0\.content\.0\.text: Field required/,
    ],
    [
      'image with a bad media type',
      {
        ...good(),
        messages: [
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'AA' } }],
          },
        ],
      },
      /^messages\.0\.content\.0\.source\.media_type:/,
    ],
    [
      'image from the Files API',
      {
        ...good(),
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }],
      },
      /image source type 'file' is not supported/,
    ],
    [
      'image url not http',
      {
        ...good(),
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'ftp://x' } }] }],
      },
      /source\.url: must be an http\(s\) URL/,
    ],
    [
      'tool_use in a user turn',
      {
        ...good(),
        messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'b', input: {} }] }],
      },
      /tool_use blocks may only appear in assistant messages/,
    ],
    [
      'tool_use input not an object',
      {
        ...good(),
        messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'b', input: [1] }] }],
      },
      /content\.0\.input: Input should be a valid dictionary/,
    ],
    [
      'tool_result in an assistant turn',
      { ...good(), messages: [{ role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 'a' }] }] },
      /tool_result blocks may only appear in user messages/,
    ],
    [
      'tool_result is_error not boolean',
      {
        ...good(),
        messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'a', is_error: 'yes' }] }],
      },
      /is_error: Input should be a valid boolean/,
    ],
    [
      'thinking without signature',
      { ...good(), messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: 'hm' }] }] },
      /content\.0\.signature: Field required/,
    ],
    ['system a number', { ...good(), system: 3 }, /^system:/],
    ['system block not text', { ...good(), system: [{ type: 'image' }] }, /^system\.0:/],
    ['temperature above 1', { ...good(), temperature: 1.5 }, /^temperature: Input should be between 0 and 1/],
    ['top_k fractional', { ...good(), top_k: 2.5 }, /^top_k: Input should be a valid integer/],
    ['stop_sequences not strings', { ...good(), stop_sequences: ['a', 1] }, /^stop_sequences\.1:/],
    ['stream not boolean', { ...good(), stream: 'yes' }, /^stream:/],
    ['metadata extra key', { ...good(), metadata: { user_id: 'u', foo: 1 } }, /^metadata\.foo: Extra inputs/],
    [
      'tool without input_schema',
      { ...good(), tools: [{ name: 'x' }] },
      /^tools\.0\.input_schema: Field required/,
    ],
    ['tool with a bad name', { ...good(), tools: [{ name: 'a b', input_schema: {} }] }, /^tools\.0\.name:/],
    [
      'duplicate tool names',
      {
        ...good(),
        tools: [
          { name: 'a', input_schema: {} },
          { name: 'a', input_schema: {} },
        ],
      },
      /^tools\.1\.name: tool names must be unique/,
    ],
    ['tool_choice unknown type', { ...good(), tool_choice: { type: 'required' } }, /^tool_choice\.type:/],
    ['tool_choice tool without name', { ...good(), tool_choice: { type: 'tool' } }, /^tool_choice\.name:/],
    [
      'cache_control of another type',
      { ...good(), system: [{ type: 'text', text: 'x', cache_control: { type: 'persistent' } }] },
      /^system\.0\.cache_control\.type: Input should be 'ephemeral'/,
    ],
    [
      'cache_control bad ttl',
      { ...good(), cache_control: { type: 'ephemeral', ttl: '2h' } },
      /^cache_control\.ttl:/,
    ],
    ['thinking without type', { ...good(), thinking: { budget_tokens: 2000 } }, /^thinking:/],
  ];
  for (const [name, body, message] of cases) {
    test(`refused: ${name}`, () => {
      const error = refusal(body);
      assert.equal(error.status, 400);
      assert.equal(error.type, 'invalid_request_error');
      assert.match(error.message, message);
    });
  }

  test('a tool input_schema nested 10,000 deep is a 400, not a stack overflow', () => {
    const body = { ...good(), tools: [{ name: 'deep', input_schema: nested(10_000) }] };
    const error = refusal(body);
    assert.equal(error.status, 400);
    assert.match(
      error.message,
      /^tools\.0\.input_schema\.properties\.inner\.properties\.\.\.: nested more than 128/,
    );
  });

  test('a body parsed from 100,000 nested arrays is refused too', () => {
    const text = `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"metadata":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const error = refusal(JSON.parse(text));
    assert.match(error.message, /nested more than 128 levels/);
  });

  test('nesting within the bound passes', () => {
    const body = { ...good(), tools: [{ name: 'ok', input_schema: nested(40) }] };
    assert.doesNotThrow(() => validateMessagesRequest(body));
  });

  test('count_tokens bodies need no max_tokens, but a present one is still checked', () => {
    const { max_tokens: _unused, ...body } = good();
    assert.doesNotThrow(() => validateMessagesRequest(body, { countTokens: true }));
    assert.match(refusal({ ...body, max_tokens: 'x' }, { countTokens: true }).message, /^max_tokens:/);
    assert.match(refusal(body).message, /^max_tokens: Field required/);
  });

  test('every supported block type passes', () => {
    const body = {
      ...good(),
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } },
            {
              type: 'document',
              source: { type: 'text', media_type: 'text/plain', data: 'notes' },
              title: 'N',
            },
            { type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hmm', signature: 'sig' },
            { type: 'redacted_thinking', data: 'opaque' },
            { type: 'text', text: 'Calling.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get', input: { q: 1 } },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_1',
              content: [{ type: 'text', text: 'r' }],
              is_error: false,
            },
          ],
        },
      ],
      tools: [
        { name: 'get', input_schema: { type: 'object' }, cache_control: { type: 'ephemeral' } },
        { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
      ],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      thinking: { type: 'enabled', budget_tokens: 2048 },
      metadata: { user_id: 'u-1' },
      stop_sequences: ['END'],
      temperature: 0.5,
      top_p: 0.9,
      top_k: 40,
      stream: true,
    };
    assert.doesNotThrow(() => validateMessagesRequest(body));
  });
});

describe('errors in Anthropic shape', () => {
  test('statuses map to the documented error types', () => {
    const expected: Array<[number, string]> = [
      [400, 'invalid_request_error'],
      [401, 'authentication_error'],
      [402, 'billing_error'],
      [403, 'permission_error'],
      [404, 'not_found_error'],
      [408, 'timeout_error'],
      [413, 'request_too_large'],
      [422, 'invalid_request_error'],
      [429, 'rate_limit_error'],
      [500, 'api_error'],
      [502, 'api_error'],
      [503, 'overloaded_error'],
      [504, 'timeout_error'],
      [529, 'overloaded_error'],
    ];
    for (const [status, type] of expected)
      assert.equal(anthropicErrorTypeForStatus(status), type, `status ${status}`);
  });

  test('gateway errors keep their status and headers, with the Anthropic type', () => {
    const limited = toAnthropicError(
      new GatewayError('rate_limited', 'slow down', { headers: { 'retry-after': '3' } }),
    );
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.toJSON(), {
      type: 'error',
      error: { type: 'rate_limit_error', message: 'slow down' },
    });
    assert.deepEqual(limited.headers, { 'retry-after': '3' });
    assert.equal(toAnthropicError(new GatewayError('unauthorized', 'bad key')).type, 'authentication_error');
    assert.equal(
      toAnthropicError(new GatewayError('model_not_found', 'no such model')).type,
      'not_found_error',
    );
    assert.equal(toAnthropicError(new GatewayError('body_too_large', 'too big')).type, 'request_too_large');
    const unavailable = toAnthropicError(new GatewayError('no_model_available', 'all failed'));
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.type, 'overloaded_error');
    assert.equal(toAnthropicError(new GatewayError('upstream_timeout', 'slow')).type, 'timeout_error');
  });

  test('a prompt too long for every model says so in the words Claude Code looks for', () => {
    const error = toAnthropicError(new GatewayError('context_length_exceeded', 'needs 300000 tokens'));
    assert.equal(error.status, 400);
    assert.equal(error.message, 'prompt is too long: needs 300000 tokens');
  });

  test('an upstream error uses its status, and an unknown error hides its message', () => {
    const upstream = toAnthropicError(new UpstreamError('rate_limited', 'limited', { status: 429 }));
    assert.equal(upstream.type, 'rate_limit_error');
    const timedOut = toAnthropicError(new UpstreamError('timeout', 'idle'));
    assert.equal(timedOut.status, 504);
    const bug = toAnthropicError(new TypeError('x is undefined at secret/path.ts'));
    assert.equal(bug.status, 500);
    assert.deepEqual(bug.toJSON(), {
      type: 'error',
      error: { type: 'api_error', message: 'Internal server error' },
    });
  });
});
