/**
 * One non-streaming chat request, and one embeddings request, through the pipeline: plan, cache,
 * the chain of policies, accounting. Every path ends in one result or one GatewayError, and one
 * summary on the event bus.
 */
import { GatewayError } from '../errors.ts';
import type { Opened } from '../resilience/fallback.ts';
import type { ChatCompletion, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../types/openai.ts';
import { accountantUsage } from './accounting.ts';
import { chainFailure } from './outcome.ts';
import { embeddingsChain, modelNotAllowed, refuseDeepNesting } from './plan.ts';
import type { RequestRunner } from './runner.ts';
import type { ChatResult, EmbeddingsResult, RequestOptions } from './types.ts';

export async function runChat(
  runner: RequestRunner,
  request: ChatRequest,
  requestOptions: RequestOptions,
): Promise<ChatResult> {
  const { pool, board, clock, accountant } = runner.deps;
  const { requestId, startedClock, trace, facts } = runner.begin(request, requestOptions);
  try {
    const planned = await runner.plan(request, requestOptions, facts, trace);
    const { features, decision } = planned;
    // Not awaited when there is nothing to look up: an await of undefined still costs a turn of the microtask queue.
    const lookup = runner.lookUp(request, requestOptions);
    const cached = lookup && (await lookup);
    if (cached?.hit) {
      const { hit } = cached;
      facts.cache = 'hit';
      trace.model = hit.model;
      trace.ttftMs = clock.now() - startedClock;
      const finish = runner.finishWhenWritten(
        requestOptions,
        facts,
        startedClock,
        request,
        () => hit.completion.choices[0]?.message.content ?? '',
      );
      const completion = {
        ...hit.completion,
        id: `chatcmpl-${requestId}`,
        created: Math.floor(Date.now() / 1000),
      };
      return { completion, meta: runner.meta(requestId, planned, trace, 'hit'), finish };
    }
    if (cached) facts.cache = 'miss';
    const scope = runner.scope(requestOptions);
    const hedged = runner.hedged(requestOptions);
    // Copied only when it says otherwise: the copy was a measurable part of the request's own work.
    const upstreamRequest: ChatRequest = request.stream ? { ...request, stream: false } : request;
    const operation = pool.tracked(
      trace,
      requestId,
      async (client, callOptions) => {
        const { completion, meta } = await client.chat(upstreamRequest, callOptions);
        board.observeUpstreamBudget(client.spec.name, meta.budget);
        return completion;
      },
      facts.span,
    );
    let opened: Opened<ChatCompletion>;
    try {
      const chain = [decision.model, ...decision.fallbacks];
      opened = await runner.open(chain, operation, scope, trace, requestId, planned.meter, hedged);
    } catch (error) {
      scope.cancelRemaining(); // a hedge or retry still in flight has no one to answer
      throw chainFailure(error, scope.clientGone);
    } finally {
      scope.close();
    }
    const completion = opened.value;
    const segment = trace.segment(opened.target, features.promptTokens);
    segment.usage = completion.usage;
    segment.text = completion.choices[0]?.message.content ?? '';
    trace.finishReason = completion.choices[0]?.finish_reason ?? undefined;
    trace.model = opened.target;
    trace.ttftMs = clock.now() - startedClock;
    opened.lifetime.end();
    const finish = runner.finishWhenWritten(requestOptions, facts, startedClock, request, () => segment.text);
    // No usage from the upstream: the client gets the gateway's own count (as the log does).
    completion.usage ??= accountantUsage(accountant.segmentUsage(segment));
    runner.remember(cached?.key, opened.target, completion);
    return {
      completion,
      meta: runner.meta(requestId, planned, trace, cached ? 'miss' : undefined),
      finish,
    };
  } catch (error) {
    facts.error = asGatewayError(error);
    runner.finish(facts, startedClock, request);
    throw facts.error;
  }
}

export async function runEmbeddings(
  runner: RequestRunner,
  request: EmbeddingsRequest,
  requestOptions: RequestOptions,
): Promise<EmbeddingsResult> {
  const { pool, config, planner, keyAdmissions } = runner.deps;
  const { requestId, startedClock, trace, facts } = runner.begin(request as unknown as ChatRequest, {
    ...requestOptions,
    api: 'embeddings',
  });
  try {
    const allowed = requestOptions.access?.models;
    const chain = embeddingsChain(request.model, config.models, planner.names).filter(
      (name) => !allowed || allowed.has(name),
    );
    if (chain.length === 0) throw modelNotAllowed(request.model);
    await keyAdmissions.admit(requestOptions.access, { tokens: 0, costUsd: 0 }, facts);
    refuseDeepNesting(request.input, 'input');
    const scope = runner.scope(requestOptions);
    const operation = pool.tracked(
      trace,
      requestId,
      async (client, callOptions) => {
        if (!client.embeddings) {
          throw new GatewayError('invalid_request', `${client.spec.name} does not serve embeddings`, {
            param: 'model',
          });
        }
        return (await client.embeddings(request, callOptions)).response;
      },
      facts.span,
    );
    let opened: Opened<EmbeddingsResponse>;
    try {
      opened = await runner.open(
        chain,
        operation,
        scope,
        trace,
        requestId,
        { estimate: 0, actual: () => undefined },
        false,
      );
    } catch (error) {
      scope.cancelRemaining();
      throw chainFailure(error, scope.clientGone);
    } finally {
      scope.close();
    }
    opened.lifetime.end();
    trace.model = opened.target;
    const usage = opened.value.usage;
    const segment = trace.segment(opened.target, usage?.prompt_tokens ?? 0);
    segment.usage = usage
      ? { prompt_tokens: usage.prompt_tokens, completion_tokens: 0, total_tokens: usage.total_tokens }
      : undefined;
    runner.finish(facts, startedClock, {});
    return { response: opened.value, model: opened.target, requestId, fallbacks: trace.fallbacks };
  } catch (error) {
    facts.error = asGatewayError(error);
    runner.finish(facts, startedClock, {});
    throw facts.error;
  }
}

export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError('internal_error', 'internal error', { cause: error });
}
