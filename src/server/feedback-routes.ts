/**
 * `POST /v1/feedback` (contract; issue 15): `{"request_id", "score"}`, score 0..1, about an earlier
 * answer. The score goes beside the request's row in the request log (the training data of
 * `switchyard train-router`) and into the bandit's evidence for the request's task and model.
 * Only the client key that made the request may score it; an unknown id is a 404 in OpenAI's shape.
 *
 * In a fleet the row lives in the request log of the instance that answered: a score taken
 * elsewhere is published, and that instance writes it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, invalidRequest } from '../errors.ts';
import type { FeedbackTarget } from '../gateway/feedback.ts';
import type { Gateway } from '../gateway/index.ts';
import type { RequestLog } from '../observability/request-log.ts';
import { stateChannels } from '../state/keys.ts';
import { parseJson, readBody, sendJson } from './http-io.ts';
import type { RequestContext, RouteTable } from './routes.ts';

/** Feedback bodies are tiny; anything larger is not feedback. */
const BODY_LIMIT = 16 * 1024;
const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

interface FeedbackBody {
  requestId: string;
  score: number;
}

export function feedbackRoutes(gateway: Gateway, requestLog: RequestLog | undefined): RouteTable {
  // Scores taken by another instance for rows in this one's log.
  gateway.store.subscribe(stateChannels.feedback, (message) => {
    const parsed = safeParse(message);
    if (parsed && requestLog) requestLog.setFeedback(parsed.requestId, parsed.score);
  });

  async function feedback(request: IncomingMessage, response: ServerResponse, context: RequestContext) {
    const { requestId, score } = validateFeedback(parseJson(await readBody(request, BODY_LIMIT)));
    // The row, when this instance answered it: older than the gateway remembers, or from before a reload.
    const row = requestLog?.get(requestId);
    let known: (FeedbackTarget & { scored: boolean }) | undefined;
    if (row?.status === 200 && row.model && row.task && row.client_key_id === (context.clientKeyId ?? null)) {
      known = { task: row.task, model: row.model, scored: row.feedback_score !== null };
      if (context.clientKeyId !== undefined) known.keyId = context.clientKeyId;
    }
    const outcome = await gateway.feedback(requestId, score, { clientKeyId: context.clientKeyId, known });
    if (outcome.status === 'unknown') {
      throw new GatewayError(
        'not_found',
        `No answered request with id '${requestId}' to score (unknown, another key's, or older than the feedback window).`,
        { param: 'request_id' },
      );
    }
    if (known) requestLog!.setFeedback(requestId, score);
    else if (gateway.stateStatus().shared) {
      await gateway.store
        .publish(stateChannels.feedback, JSON.stringify({ requestId, score }))
        .catch(() => {}); // degraded: the bandit counted it; the other instance's row misses it
    }
    sendJson(response, 200, {
      object: 'feedback',
      request_id: requestId,
      score,
      model: outcome.target.model,
      task: outcome.target.task,
      counted: outcome.status === 'counted',
    });
  }

  return { 'POST /v1/feedback': feedback, 'POST /feedback': feedback };
}

export function validateFeedback(body: unknown): FeedbackBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('The body must be a JSON object: {"request_id": "...", "score": 0..1}.');
  }
  const { request_id: requestId, score } = body as Record<string, unknown>;
  if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) {
    throw invalidRequest(
      'request_id must be the x-switchyard-request-id of an earlier answer (1-128 letters, digits, _.:-).',
      'request_id',
    );
  }
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) {
    throw invalidRequest('score must be a number from 0 (bad answer) to 1 (good answer).', 'score');
  }
  return { requestId, score };
}

function safeParse(message: string): FeedbackBody | undefined {
  try {
    return validateFeedback(JSON.parse(message));
  } catch {
    return undefined;
  }
}
