/**
 * POST /v1/responses through a real gateway, driven by the official `openai` client's
 * `responses.create` (plain and streamed), over each kind of backend: fake upstreams speaking
 * OpenAI Chat Completions, Anthropic Messages and Gemini, and the simulated provider. A function
 * tool call (streamed as function_call_arguments deltas), the function_call_output round trip,
 * and the same continuation through `previous_response_id` on a stored response.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type OpenAI from 'openai';
import type { FakeUpstream } from '../helpers/fake-upstream.ts';
import { fastSimulated, startTestGateway } from '../helpers/gateway.ts';
import { modelFor, startFake, type UpstreamKind, upstreamKinds } from './server-fakes.ts';

const weatherTool: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};
const question = 'What is the weather in Paris? Use get_weather.';

type Backend = UpstreamKind | 'simulated';
const backends: Backend[] = [...upstreamKinds, 'simulated'];

for (const backend of backends) {
  describe(`POST /v1/responses with the openai client over a ${backend} backend`, () => {
    let upstream: FakeUpstream | undefined;
    let gateway: Awaited<ReturnType<typeof startTestGateway>>;
    before(async () => {
      upstream = backend === 'simulated' ? undefined : await startFake(backend);
      gateway = await startTestGateway({
        models: {
          target:
            backend === 'simulated'
              ? fastSimulated({ simulate: { ttft_ms: 1, ttft_sigma: 0, tokens_per_second: 20_000 } })
              : modelFor(backend, upstream!),
        },
      });
    });
    after(async () => {
      await gateway.close();
      await upstream?.close();
    });

    it('responses.create: text, output_text, usage, status and the decision headers', async () => {
      const { data: response, response: http } = await gateway.client.responses
        .create({ model: 'target', input: 'Say hello', store: false })
        .withResponse();
      assert.equal(response.object, 'response');
      assert.match(response.id, /^resp_/);
      assert.equal(response.status, 'completed');
      assert.equal(response.output[0]?.type, 'message');
      if (backend === 'simulated') assert.ok(response.output_text.length > 0);
      else assert.equal(response.output_text, `Hello from ${backend}.`);
      assert.ok(response.usage && response.usage.output_tokens > 0);
      if (backend !== 'simulated') {
        assert.equal(response.usage?.input_tokens, 11);
        assert.equal(response.usage?.output_tokens, 7);
        assert.equal(response.usage?.total_tokens, 18);
      }
      assert.equal(http.headers.get('x-switchyard-model'), 'target');
      assert.equal(http.headers.get('x-switchyard-fallbacks'), '0');
      assert.match(http.headers.get('x-switchyard-request-id') ?? '', /^req_/);
    });

    it('streamed: a function call as function_call_arguments deltas, whole in response.completed', async () => {
      const stream = await gateway.client.responses.create({
        model: 'target',
        input: question,
        tools: [weatherTool],
        tool_choice: { type: 'function', name: 'get_weather' },
        stream: true,
        store: false,
      });
      const types: string[] = [];
      const sequence: number[] = [];
      let deltas = '';
      let completed: OpenAI.Responses.Response | undefined;
      for await (const event of stream) {
        types.push(event.type);
        sequence.push(event.sequence_number);
        if (event.type === 'response.function_call_arguments.delta') deltas += event.delta;
        if (event.type === 'response.completed') completed = event.response;
      }
      assert.deepEqual(types.slice(0, 3), [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
      ]);
      assert.ok(types.includes('response.function_call_arguments.delta'), types.join(','));
      assert.ok(types.includes('response.function_call_arguments.done'));
      assert.equal(types.at(-1), 'response.completed');
      assert.deepEqual(
        sequence,
        sequence.map((_value, index) => index),
        'sequence_number counts from 0',
      );
      assert.ok(completed);
      const call = completed.output.find((item) => item.type === 'function_call');
      assert.ok(call && call.type === 'function_call');
      assert.equal(call.name, 'get_weather');
      assert.equal(call.arguments, deltas);
      if (backend === 'simulated') assert.equal(typeof JSON.parse(call.arguments).city, 'string');
      else assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
    });

    it('function_call_output round trip: the backend reads the result and answers in text', async () => {
      const first = await gateway.client.responses.create({
        model: 'target',
        input: question,
        tools: [weatherTool],
        tool_choice: 'required',
        store: false,
      });
      const call = first.output.find((item) => item.type === 'function_call');
      assert.ok(call && call.type === 'function_call', JSON.stringify(first.output));
      const second = await gateway.client.responses.create({
        model: 'target',
        tools: [weatherTool],
        store: false,
        input: [
          { role: 'user', content: question },
          { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
          { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
        ],
      });
      assert.equal(second.status, 'completed');
      assert.ok(!second.output.some((item) => item.type === 'function_call'), 'no second call');
      if (backend === 'simulated') assert.ok(second.output_text.length > 0);
      else assert.equal(second.output_text, 'It is sunny in Paris.');
    });

    it('previous_response_id on a stored response continues the conversation (streamed)', async () => {
      const first = await gateway.client.responses.create({
        model: 'target',
        instructions: 'Use tools when asked.',
        input: question,
        tools: [weatherTool],
        tool_choice: 'required',
      });
      assert.equal((first as { store?: boolean }).store, true, "store defaults to true, as OpenAI's does");
      const call = first.output.find((item) => item.type === 'function_call');
      assert.ok(call && call.type === 'function_call');
      const stream = await gateway.client.responses.create({
        model: 'target',
        previous_response_id: first.id,
        tools: [weatherTool],
        input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny' }],
        stream: true,
      });
      let text = '';
      let completed: OpenAI.Responses.Response | undefined;
      for await (const event of stream) {
        if (event.type === 'response.output_text.delta') text += event.delta;
        if (event.type === 'response.completed') completed = event.response;
      }
      assert.equal(completed?.previous_response_id, first.id);
      if (backend === 'simulated') {
        assert.ok(text.length > 0);
      } else {
        assert.equal(text, 'It is sunny in Paris.');
        // The stored turn (question and call) went to the upstream before the new output.
        assert.match(upstream!.requests.at(-1)!.body, /What is the weather in Paris/);
      }
      // The streamed response was stored too: it can be retrieved and continued.
      const retrieved = await gateway.client.responses.retrieve(completed!.id);
      assert.equal(retrieved.output_text, text);
    });
  });
}
