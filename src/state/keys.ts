/**
 * Every key and channel the gateway keeps in the shared store, and the type of what it holds,
 * in one place. Names are relative: the store adds its prefix (`state.redis.prefix`).
 */
import { type Key, key } from './store.ts';

/** A breaker's shared state (what every instance must agree on). */
export interface SharedBreakerState {
  phase: 'closed' | 'open' | 'half_open';
  /** Store-clock ms when OPEN ends. */
  openUntil: number;
  /** Opens in a row without a successful trial (grows the recovery timeout). */
  reopenCount: number;
  reason: string;
  /** Which instance made the last transition. */
  by: string;
}

/** A model's rpm and tpm window-bucket names. */
export interface ModelCapKeys {
  requests: string;
  tokens: string;
}

const capKeysByModel = new Map<string, ModelCapKeys>();

/**
 * A model's bucket names, built once per model: admission and routing ask for them on every
 * request, and a new string each time would be hashed anew by every Map it keys.
 */
export function modelCapKeys(model: string): ModelCapKeys {
  let keys = capKeysByModel.get(model);
  if (!keys) {
    keys = { requests: stateKeys.modelRequests(model), tokens: stateKeys.modelTokens(model) };
    capKeysByModel.set(model, keys);
  }
  return keys;
}

export const stateKeys = {
  breaker: (model: string): Key<SharedBreakerState> => key(`breaker:${model}`),
  /** The instance sending the half-open trial for this model. */
  trialLease: (model: string): Key<string> => key(`lease:trial:${model}`),
  /** The instance probing this model this interval. */
  probeLease: (model: string): Key<string> => key(`lease:probe:${model}`),
  /** After a 429: store-clock ms until the model may be called again. */
  coolDown: (model: string): Key<number> => key(`cooldown:${model}`),
  /** Models an operator took out of rotation (the fleet's list). */
  outOfRotation: (): Key<string[]> => key('out-of-rotation'),
  /** Window buckets (admission): a model's requests and tokens per minute. */
  modelRequests: (model: string): string => `window:model:${model}:requests`,
  modelTokens: (model: string): string => `window:model:${model}:tokens`,
  /** Spend in USD since the fleet started counting (never expires). */
  modelSpend: (model: string): Key<number> => key(`spend:model:${model}`),
  /** Virtual keys. */
  keyRecord: (id: string): Key<unknown> => key(`key:${id}`),
  keyIndex: (): Key<string[]> => key('keys'),
  keySecret: (): Key<string> => key('key-secret'),
  keyRequests: (id: string): string => `window:key:${id}:requests`,
  keyTokens: (id: string): string => `window:key:${id}:tokens`,
  keyConcurrency: (id: string): string => `slots:key:${id}`,
  /** Budget bucket of one period, e.g. `budget:key:ab12:day:2026-12-01`. */
  keyBudget: (id: string, period: string): string => `budget:key:${id}:${period}`,
  keySpend: (id: string): Key<number> => key(`spend:key:${id}`),
  keyRequestCount: (id: string): Key<number> => key(`count:key:${id}`),
  /** Epoch ms of the key's latest request (any instance). */
  keyLastUsed: (id: string): Key<number> => key(`used:key:${id}`),
  /** What a request's feedback is about (the task and the model that answered), kept a while. */
  feedbackTarget: (requestId: string): Key<FeedbackTarget> => key(`feedback:${requestId}`),
  /** Set once a request's feedback has counted in the bandit (a second score only updates the log). */
  feedbackCounted: (requestId: string): Key<number> => key(`feedback-counted:${requestId}`),
  /** The bandit's evidence per (task, model): summed scores and summed (1 - score). */
  banditGood: (task: string, model: string): Key<number> => key(`bandit:${task}:${model}:good`),
  banditBad: (task: string, model: string): Key<number> => key(`bandit:${task}:${model}:bad`),
} as const;

/** A request feedback can be given about. */
export interface FeedbackTarget {
  task: string;
  /** The model that answered. */
  model: string;
  /** The client key that made the request; feedback from another key is refused. */
  keyId?: string;
}

/** Pub/sub channels: a message says what changed; receivers re-read or apply it. */
export const stateChannels = {
  breaker: 'breaker',
  coolDown: 'cooldown',
  rotation: 'rotation',
  keys: 'keys',
  /** `{"requestId","score"}`: the instance whose request log has the row records it. */
  feedback: 'feedback',
} as const;
