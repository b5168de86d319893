/**
 * The simulated models do tools and JSON: tool calls whose arguments satisfy the tool's
 * parameters, JSON answers that satisfy `response_format`, streamed as OpenAI streams them.
 * Seen as users see them: the official `openai` client and the AI SDK against a real gateway.
 * Every generated value is checked with a JSON Schema validator (Ajv), never by eye.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { generateObject, jsonSchema } from 'ai';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import type OpenAI from 'openai';
import { seededRandom } from '../../src/lib/random.ts';
import { sampleFromSchema } from '../../src/providers/simulated/schema-sample.ts';
import { fastSimulated, startTestGateway } from '../helpers/gateway.ts';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

const addFormats = ((formats as unknown as { default?: typeof formats }).default ?? formats) as unknown as (
  ajv: Ajv | Ajv2020,
) => void;

function validator(draft: '2020' | '07' = '2020') {
  const ajv = draft === '2020' ? new Ajv2020({ strict: false }) : new Ajv({ strict: false });
  addFormats(ajv);
  return ajv;
}

const ajv2020 = validator('2020');

/** Assert `value` is valid against `schema`, printing Ajv's errors when not. */
function assertValid(schema: object, value: unknown, ajv: Ajv | Ajv2020 = ajv2020): void {
  const validate = ajv.compile(schema);
  assert.ok(
    validate(value),
    `${JSON.stringify(value)} is not valid: ${ajv.errorsText(validate.errors)} (schema ${JSON.stringify(schema)})`,
  );
}

const weatherParameters = {
  type: 'object',
  properties: {
    city: { type: 'string', minLength: 1 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer', minimum: 1, maximum: 7 },
  },
  required: ['city', 'unit'],
  additionalProperties: false,
};

const flightParameters = {
  type: 'object',
  properties: {
    route: {
      type: 'object',
      properties: {
        from: { type: 'string', pattern: '^[A-Z]{3}$' },
        to: { type: 'string', pattern: '^[A-Z]{3}$' },
      },
      required: ['from', 'to'],
      additionalProperties: false,
    },
    date: { type: 'string', format: 'date' },
    passengers: {
      type: 'array',
      minItems: 1,
      maxItems: 4,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', maxLength: 40 },
          age: { type: 'integer', minimum: 0, maximum: 120 },
          seat: { anyOf: [{ type: 'string', enum: ['window', 'aisle'] }, { type: 'null' }] },
        },
        required: ['name', 'age', 'seat'],
        additionalProperties: false,
      },
    },
    cabin: { type: 'string', enum: ['economy', 'business', 'first'] },
    flexible: { type: 'boolean' },
    max_price: { type: 'number', exclusiveMinimum: 0, maximum: 5000 },
  },
  required: ['route', 'date', 'passengers', 'cabin', 'flexible', 'max_price'],
  additionalProperties: false,
};

const tools: OpenAI.Chat.Completions.ChatCompletionFunctionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Get the current weather forecast for a city',
      parameters: weatherParameters,
    },
  },
  {
    type: 'function',
    function: {
      name: 'search_flights',
      description: 'Search flights between two airports',
      parameters: flightParameters,
    },
  },
];

const parametersOf = (name: string) =>
  tools.find((tool) => tool.function.name === name)!.function.parameters!;

/** A response schema with $defs, a recursive $ref, formats, bounds and strict objects. */
const catalogSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    updated: { type: 'string', format: 'date-time' },
    owner: { type: 'string', format: 'email' },
    status: { const: 'published' },
    rating: { type: ['number', 'null'], minimum: 0, maximum: 5 },
    price: { type: 'number', multipleOf: 0.25, minimum: 1, maximum: 50 },
    tags: { type: 'array', items: { type: 'string', enum: ['new', 'sale', 'eco'] }, uniqueItems: true },
    root: { $ref: '#/$defs/category' },
  },
  required: ['id', 'updated', 'owner', 'status', 'rating', 'price', 'tags', 'root'],
  additionalProperties: false,
  $defs: {
    category: {
      type: 'object',
      properties: {
        title: { type: 'string', minLength: 3, maxLength: 24 },
        children: { type: 'array', items: { $ref: '#/$defs/category' } },
      },
      required: ['title', 'children'],
      additionalProperties: false,
    },
  },
};

async function collect(stream: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** Put tool-call deltas back together as a client does, by index. */
function assembleToolCalls(chunks: Chunk[]): Array<{ id: string; name: string; arguments: string }> {
  const calls: Array<{ id: string; name: string; arguments: string }> = [];
  for (const chunk of chunks) {
    for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
      calls[delta.index] ??= { id: '', name: '', arguments: '' };
      const call = calls[delta.index]!;
      if (delta.id) call.id = delta.id;
      if (delta.function?.name) call.name += delta.function.name;
      if (delta.function?.arguments) call.arguments += delta.function.arguments;
    }
  }
  return calls;
}

/** The first tool call of a message, which must be a function call. */
function functionCall(message: OpenAI.Chat.Completions.ChatCompletionMessage): {
  name: string;
  arguments: string;
} {
  const call = message.tool_calls?.[0];
  assert.ok(call?.type === 'function', 'a function tool call');
  return call.function;
}

const words = (text: string) => new Set(text.match(/[\p{L}\p{N}]+/gu) ?? []);

describe('simulated models: tool calls through the gateway', () => {
  let gateway: Gateway;
  before(async () => {
    gateway = await startTestGateway({ models: { sim: fastSimulated() } });
  });
  after(async () => {
    await gateway.close();
  });

  it('calls the tool the message asks for, with arguments valid for its parameters', async () => {
    const prompt = 'What will the weather be like in Lisbon this weekend?';
    const completion = await gateway.client.chat.completions.create({
      model: 'sim',
      messages: [{ role: 'user', content: prompt }],
      tools,
    });
    const choice = completion.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const calls = choice.message.tool_calls ?? [];
    assert.equal(calls.length, 1);
    const call = calls[0]!;
    assert.equal(call.type, 'function');
    assert.match(call.id, /^call_[A-Za-z0-9]{24}$/);
    assert.ok(call.type === 'function' && call.function.name === 'get_weather');
    const args = JSON.parse(call.function.arguments);
    assertValid(weatherParameters, args);
    for (const word of words(args.city))
      assert.ok(words(prompt).has(word), `"${word}" comes from the prompt`);
    assert.ok((completion.usage?.completion_tokens ?? 0) > 0);
  });

  it('streams a tool call as OpenAI does: id, type and name first, then the arguments in pieces', async () => {
    const stream = await gateway.client.chat.completions.create({
      model: 'sim',
      stream: true,
      messages: [{ role: 'user', content: 'Any flights from LIS to BER next week?' }],
      tools,
    });
    const chunks = await collect(stream);
    const withCalls = chunks.filter((chunk) => chunk.choices[0]?.delta.tool_calls);
    const first = withCalls[0]!.choices[0]!.delta;
    assert.equal(first.role, 'assistant');
    assert.deepEqual(
      { ...first.tool_calls![0], id: 'id' },
      { index: 0, id: 'id', type: 'function', function: { name: 'search_flights', arguments: '' } },
    );
    const pieces = withCalls.slice(1).map((chunk) => chunk.choices[0]!.delta.tool_calls![0]!);
    assert.ok(pieces.length >= 3, `arguments in several pieces (got ${pieces.length})`);
    for (const piece of pieces) {
      assert.equal(piece.index, 0);
      assert.equal(piece.id, undefined, 'the id comes once');
      assert.equal(piece.function?.name, undefined, 'the name comes once');
    }
    const finishes = chunks.map((chunk) => chunk.choices[0]?.finish_reason).filter(Boolean);
    assert.deepEqual(finishes, ['tool_calls']);
    const last = chunks.findLast((chunk) => chunk.choices.length > 0)!;
    assert.equal(last.choices[0]!.finish_reason, 'tool_calls', 'the finish chunk closes the stream');
    assert.ok(
      chunks.every((chunk) => !chunk.choices[0]?.delta.content),
      'no text content',
    );
    const [call] = assembleToolCalls(chunks);
    const args = JSON.parse(call!.arguments);
    assertValid(flightParameters, args);
    assert.deepEqual(
      [args.route.from, args.route.to].every((code: string) => ['LIS', 'BER'].includes(code)),
      true,
      'a pattern is met with words of the prompt',
    );
  });

  it("the openai client's stream helper assembles the same tool call", async () => {
    const runner = gateway.client.chat.completions.stream({
      model: 'sim',
      messages: [{ role: 'user', content: 'Tell me the weather forecast for Oslo' }],
      tools,
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
    assert.ok(call.type === 'function' && call.function.name === 'get_weather');
    assertValid(weatherParameters, JSON.parse(call.function.arguments));
  });

  it('calls several tools in parallel when the message names several, unless parallel_tool_calls is false', async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Check the weather in Rome and search flights from FCO to MAD' },
    ];
    const stream = await gateway.client.chat.completions.create({
      model: 'sim',
      stream: true,
      messages,
      tools,
    });
    const calls = assembleToolCalls(await collect(stream));
    assert.deepEqual(calls.map((call) => call.name).sort(), ['get_weather', 'search_flights']);
    assert.notEqual(calls[0]!.id, calls[1]!.id);
    for (const call of calls) assertValid(parametersOf(call.name), JSON.parse(call.arguments));

    const single = await gateway.client.chat.completions.create({
      model: 'sim',
      messages,
      tools,
      parallel_tool_calls: false,
    });
    assert.equal(single.choices[0]!.message.tool_calls?.length, 1);
  });

  it('tool_choice: required and a named function force a call; none never calls', async () => {
    const unrelated: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Hello, how are you?' },
    ];
    const plain = await gateway.client.chat.completions.create({ model: 'sim', messages: unrelated, tools });
    assert.equal(plain.choices[0]!.finish_reason, 'stop', 'a message that asks for no tool gets text');
    assert.equal(typeof plain.choices[0]!.message.content, 'string');

    const required = await gateway.client.chat.completions.create({
      model: 'sim',
      messages: unrelated,
      tools,
      tool_choice: 'required',
    });
    assert.equal(required.choices[0]!.finish_reason, 'tool_calls');
    const forced = required.choices[0]!.message.tool_calls![0]!;
    assert.ok(forced.type === 'function');
    assertValid(parametersOf(forced.function.name), JSON.parse(forced.function.arguments));

    for (const stream of [false, true]) {
      const request = {
        model: 'sim',
        messages: unrelated,
        tools,
        tool_choice: { type: 'function', function: { name: 'search_flights' } },
      } as const;
      const args = stream
        ? assembleToolCalls(
            await collect(await gateway.client.chat.completions.create({ ...request, stream })),
          )[0]!.arguments
        : functionCall((await gateway.client.chat.completions.create(request)).choices[0]!.message).arguments;
      assertValid(flightParameters, JSON.parse(args));
    }

    const none = await gateway.client.chat.completions.create({
      model: 'sim',
      messages: [{ role: 'user', content: 'What is the weather in Lisbon?' }],
      tools,
      tool_choice: 'none',
    });
    assert.equal(none.choices[0]!.finish_reason, 'stop');
    assert.equal(none.choices[0]!.message.tool_calls, undefined);
  });

  it('answers in text once the tool has answered', async () => {
    const call = {
      id: 'call_1',
      type: 'function' as const,
      function: { name: 'get_weather', arguments: '{}' },
    };
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'What is the weather in Lisbon?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 21}' },
    ];
    const completion = await gateway.client.chat.completions.create({ model: 'sim', messages, tools });
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    assert.ok((completion.choices[0]!.message.content ?? '').length > 0);
    const chunks = await collect(
      await gateway.client.chat.completions.create({ model: 'sim', messages, tools, stream: true }),
    );
    assert.deepEqual(assembleToolCalls(chunks), []);
    assert.equal(chunks.findLast((chunk) => chunk.choices.length > 0)!.choices[0]!.finish_reason, 'stop');
  });

  it('a named tool_choice that is not offered is a 400, as upstreams answer it', async () => {
    await assert.rejects(
      gateway.client.chat.completions.create({
        model: 'sim',
        messages: [{ role: 'user', content: 'hi' }],
        tools,
        tool_choice: { type: 'function', function: { name: 'book_hotel' } },
      }),
      (error: any) =>
        error.status === 400 && /tool_choice/.test(error.message) && /book_hotel/.test(error.message),
    );
  });
});

describe('simulated models: JSON answers through the gateway', () => {
  let gateway: Gateway;
  before(async () => {
    gateway = await startTestGateway({ models: { sim: fastSimulated() } });
  });
  after(async () => {
    await gateway.close();
  });

  it('response_format json_object: a JSON object, whole and streamed', async () => {
    const request = {
      model: 'sim',
      messages: [{ role: 'user' as const, content: 'List three fruits as JSON' }],
      response_format: { type: 'json_object' as const },
    };
    const completion = await gateway.client.chat.completions.create(request);
    const parsed = JSON.parse(completion.choices[0]!.message.content!);
    assert.equal(typeof parsed, 'object');
    assert.ok(parsed !== null && !Array.isArray(parsed));
    assert.ok(Object.keys(parsed).length > 0);

    const chunks = await collect(await gateway.client.chat.completions.create({ ...request, stream: true }));
    const pieces = chunks.map((chunk) => chunk.choices[0]?.delta.content).filter((piece) => piece);
    assert.ok(pieces.length >= 3, 'in several pieces');
    const streamed = JSON.parse(pieces.join(''));
    assert.ok(typeof streamed === 'object' && streamed !== null && !Array.isArray(streamed));
  });

  it('response_format json_schema: JSON valid against the schema, whole and streamed, request after request', async () => {
    const request = {
      model: 'sim',
      messages: [{ role: 'user' as const, content: 'Describe the garden catalog' }],
      response_format: {
        type: 'json_schema' as const,
        json_schema: { name: 'catalog', strict: true, schema: catalogSchema },
      },
    };
    for (let round = 0; round < 10; round++) {
      const completion = await gateway.client.chat.completions.create(request);
      assert.equal(completion.choices[0]!.finish_reason, 'stop');
      assertValid(catalogSchema, JSON.parse(completion.choices[0]!.message.content!));
      const chunks = await collect(
        await gateway.client.chat.completions.create({ ...request, stream: true }),
      );
      const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
      assertValid(catalogSchema, JSON.parse(text));
    }
  });

  it("the AI SDK's generateObject gets an object valid against its schema", async () => {
    const provider = createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused' });
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        ingredients: {
          type: 'array',
          items: {
            type: 'object',
            properties: { item: { type: 'string' }, grams: { type: 'integer', minimum: 1 } },
            required: ['item', 'grams'],
            additionalProperties: false,
          },
        },
        vegetarian: { type: 'boolean' },
      },
      required: ['name', 'ingredients', 'vegetarian'],
      additionalProperties: false,
    } as const;
    const result = await generateObject({
      model: provider.chat('sim'),
      schema: jsonSchema(schema),
      prompt: 'A recipe for lentil soup',
      maxRetries: 0,
    });
    assertValid(schema, result.object);
    assert.equal(result.finishReason, 'stop');
  });
});

describe('simulated models: the same seed, the same answer', () => {
  const request = {
    model: 'sim',
    messages: [{ role: 'user' as const, content: 'Flights from LIS to BER, please' }],
    tools,
  };
  const firstCall = async (seed: number) => {
    const gateway = await startTestGateway({
      models: { sim: fastSimulated({ simulate: { ...fastSimulated().simulate, seed } }) },
    });
    try {
      const completion = await gateway.client.chat.completions.create(request);
      const chunks = await collect(
        await gateway.client.chat.completions.create({ ...request, stream: true }),
      );
      return { whole: completion.choices[0]!.message.tool_calls, streamed: assembleToolCalls(chunks) };
    } finally {
      await gateway.close();
    }
  };

  it('is deterministic under the model seed and varies with it', async () => {
    const [a, b, c] = [await firstCall(7), await firstCall(7), await firstCall(8)];
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.whole, c.whole);
    assert.notDeepEqual(a.streamed, c.streamed);
  });
});

describe('sampleFromSchema', () => {
  const prompt = ['Lisbon', 'garden', 'weekend', 'trip'];
  const sampleMany = (schema: object, count = 200) =>
    Array.from({ length: count }, (_, seed) =>
      sampleFromSchema(schema, { random: seededRandom(seed), words: prompt }),
    );

  const cases: Array<[string, object]> = [
    ['integers with exclusive bounds', { type: 'integer', exclusiveMinimum: 3, exclusiveMaximum: 9 }],
    ['numbers with a multipleOf', { type: 'number', multipleOf: 0.25, minimum: -2, maximum: 2 }],
    ['integers with a fractional multipleOf', { type: 'integer', multipleOf: 0.4, minimum: 0, maximum: 20 }],
    ['a negative-only number', { type: 'number', exclusiveMaximum: -10 }],
    [
      'string formats',
      {
        type: 'object',
        properties: Object.fromEntries(
          ['date-time', 'date', 'time', 'email', 'uri', 'uuid', 'ipv4', 'ipv6', 'hostname', 'duration'].map(
            (format) => [format, { type: 'string', format }],
          ),
        ),
        required: [
          'date-time',
          'date',
          'time',
          'email',
          'uri',
          'uuid',
          'ipv4',
          'ipv6',
          'hostname',
          'duration',
        ],
      },
    ],
    ['string lengths', { type: 'string', minLength: 30, maxLength: 32 }],
    [
      'enum, const and nullable types',
      {
        type: 'array',
        prefixItems: [{ enum: [1, 'a', null] }, { const: { x: 1 } }, { type: ['string', 'null'] }],
        items: false,
        minItems: 3,
      },
    ],
    [
      'unique items',
      { type: 'array', items: { enum: ['a', 'b', 'c'] }, uniqueItems: true, minItems: 2, maxItems: 3 },
    ],
    [
      'allOf merges',
      {
        allOf: [
          { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] },
          { properties: { b: { type: 'boolean' } }, required: ['b'] },
        ],
      },
    ],
    [
      'oneOf with a discriminator',
      {
        oneOf: [
          {
            type: 'object',
            properties: { kind: { const: 'circle' }, r: { type: 'number', minimum: 0 } },
            required: ['kind', 'r'],
          },
          {
            type: 'object',
            properties: { kind: { const: 'square' }, side: { type: 'number' } },
            required: ['kind', 'side'],
          },
        ],
      },
    ],
    [
      'a required self-reference ends in null',
      {
        type: 'object',
        properties: { next: { anyOf: [{ $ref: '#' }, { type: 'null' }] } },
        required: ['next'],
      },
    ],
    ['the catalog schema', catalogSchema],
    [
      'patterns',
      {
        type: 'array',
        prefixItems: [
          '^[A-Z]{3}$',
          '^\\d{5}(-\\d{4})?$',
          '^[a-z0-9_-]{3,16}$',
          '^\\+?[1-9]\\d{6,14}$',
          '^(?:red|green|blue)-\\d+$',
          '^[^\\s@]+@example\\.org$',
          '^#[0-9a-fA-F]{6}$',
          '^v\\d+\\.\\d+\\.\\d+$',
        ].map((pattern) => ({ type: 'string', pattern })),
        items: false,
        minItems: 8,
      },
    ],
    ['no schema at all', {}],
    [
      'minProperties with additional properties',
      { type: 'object', additionalProperties: { type: 'integer' }, minProperties: 2 },
    ],
  ];

  for (const [name, schema] of cases) {
    it(`${name}: every seed gives a valid value`, () => {
      for (const value of sampleMany(schema)) assertValid(schema, value);
    });
  }

  it('draft-07 schemas (definitions, tuple items, boolean exclusive bounds) validate too', () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      definitions: {
        point: { type: 'array', items: [{ type: 'number' }, { type: 'number' }], additionalItems: false },
      },
      type: 'object',
      properties: { at: { $ref: '#/definitions/point' }, count: { type: 'integer', minimum: 0, maximum: 3 } },
      required: ['at', 'count'],
    };
    const draft07 = validator('07');
    for (const value of sampleMany(schema)) assertValid(schema, value, draft07);
  });

  it('draws from the seed: the same seed gives the same value, different seeds vary', () => {
    const one = sampleMany(catalogSchema, 30);
    assert.deepEqual(one, sampleMany(catalogSchema, 30));
    assert.ok(new Set(one.map((value) => JSON.stringify(value))).size > 20);
  });

  it('strings echo the prompt words', () => {
    for (const value of sampleMany({ type: 'string' }, 50)) {
      for (const word of String(value).split(' ')) assert.ok(prompt.includes(word), word);
    }
  });

  it('stays small and finite on wide, deep and endlessly nested schemas', () => {
    const wide = {
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: 40 }, (_, i) => [
          `field${i}`,
          {
            type: 'array',
            items: { type: 'array', items: { type: 'object', properties: { x: { type: 'string' } } } },
          },
        ]),
      ),
    };
    for (const value of sampleMany(wide, 20)) {
      assertValid(wide, value);
      assert.ok(JSON.stringify(value).length < 50_000, 'a value budget bounds the size');
    }
    let deep: object = { type: 'string' };
    for (let i = 0; i < 10_000; i++) deep = { type: 'object', properties: { a: deep }, required: ['a'] };
    const value = sampleFromSchema(deep, { random: seededRandom(1), words: prompt });
    let levels = 0;
    for (let node: any = value; node && typeof node === 'object'; node = node.a) levels++;
    assert.ok(levels > 10 && levels < 30, `recursion stops at a bounded depth (${levels} levels)`);
  });
});
