/**
 * Planning a request: which model was asked for, with which priority, which rule matched, what
 * the analyser sees, and the routing core's decision. Priority precedence lives here and only
 * here: `auto:<priority>` in the request, then the `x-switchyard-priority` header, then the
 * matching rule's `priority`, then `routing.default_priority`. The caller's explicit ask wins
 * over an operator's rule, and the rule over the default.
 */
import type { GatewayConfig, LearnedRouting } from '../config/load.ts';
import type { ModelSpec } from '../config/model-spec.ts';
import type { Priority } from '../config/schema.ts';
import { GatewayError, invalidRequest } from '../errors.ts';
import { tooDeep } from '../lib/depth.ts';
import type { RandomSource } from '../lib/random.ts';
import { type Analyze, createAnalyzer, ruleText } from '../routing/analyze.ts';
import { decideRoute } from '../routing/decide.ts';
import { type EvidenceOf, explore } from '../routing/explore.ts';
import { type CompiledRules, compileRules, matchRule, type RequestHeaders } from '../routing/rules.ts';
import type {
  HealthSnapshot,
  NoRoute,
  RequestFeatures,
  RouteDecision,
  RoutingPolicy,
} from '../routing/types.ts';
import type { ChatRequest } from '../types/openai.ts';
import { rateLimited } from './outcome.ts';

export const autoAliases = ['auto', 'auto:cost', 'auto:speed', 'auto:quality', 'auto:balanced'] as const;
const priorityValues = new Set<string>(['cost', 'speed', 'quality', 'balanced']);

export interface Planned {
  features: RequestFeatures;
  decision: RouteDecision | NoRoute;
}

/** Where the priority came from, for one request. */
export function resolvePriority(
  requestedModel: string,
  header: string | undefined,
  rulePriority: Priority | undefined,
  defaultPriority: Priority,
): Priority {
  if (requestedModel.startsWith('auto:')) return requestedModel.slice(5) as Priority;
  if (header !== undefined) return header as Priority;
  return rulePriority ?? defaultPriority;
}

export class Planner {
  readonly names: readonly string[];
  private readonly specs: Map<string, ModelSpec>;
  private readonly analyze: Analyze;
  private readonly rules: CompiledRules;
  private readonly basePolicy: Omit<RoutingPolicy, 'priority'>;
  private readonly learned: LearnedRouting | undefined;

  /** `exploration`: the share of `auto` decisions that explore, and the feedback evidence they draw from. */
  constructor(
    private readonly config: GatewayConfig,
    private readonly health: HealthSnapshot,
    private readonly random: RandomSource,
    private readonly exploration?: { share: number; evidenceOf: EvidenceOf },
  ) {
    this.specs = new Map(config.models.map((spec) => [spec.name, spec]));
    this.names = [...autoAliases, ...this.specs.keys()];
    this.analyze = createAnalyzer(
      config.routing.analysis,
      config.models.filter((spec) => spec.capabilities.has('chat')).map((spec) => spec.contextWindow),
    );
    this.rules = compileRules(config.routing.rules);
    this.basePolicy = {
      balancedWeights: config.routing.balanced_weights,
      fallbackCount: config.routing.fallback_count,
      nearTop: config.routing.near_top,
      unhealthyFactor: config.routing.unhealthy_factor,
    };
    this.learned = config.learned;
    if (this.learned) this.basePolicy.qualityFloor = this.learned.qualityFloor;
  }

  /** `allowed`: the models the client's key may use (a named model outside it is a 403). */
  plan(request: ChatRequest, headers: RequestHeaders = {}, allowed?: ReadonlySet<string>): Planned {
    const requested = request.model;
    let explicitModel: string | undefined;
    if (requested === 'auto' || requested.startsWith('auto:')) {
      if (requested !== 'auto' && !priorityValues.has(requested.slice(5)))
        throw unknownModel(requested, this.names);
    } else if (this.specs.has(requested)) {
      if (allowed && !allowed.has(requested)) throw modelNotAllowed(requested);
      explicitModel = requested;
    } else {
      throw unknownModel(requested, this.names);
    }
    const header = headerValue(headers, 'x-switchyard-priority');
    if (header !== undefined && !priorityValues.has(header)) {
      throw invalidRequest(
        'x-switchyard-priority must be one of cost, speed, quality, balanced',
        'x-switchyard-priority',
      );
    }
    // Without rules, the rule text is never built (it is a copy of the prompt).
    const rule =
      explicitModel || this.rules.rules.length === 0
        ? undefined
        : matchRule(this.rules, { text: ruleText(request), metadata: request.metadata, headers });
    const priority = resolvePriority(requested, header, rule?.priority, this.config.routing.default_priority);
    const features = this.analyze(request, rule);
    // A named model or a rule's own list is the preference: predictions would not change it.
    if (this.learned && !explicitModel && !rule?.models?.length)
      this.predict(request, features, this.learned);
    // Every field written out: spreading basePolicy into a new object was ~3 µs per request,
    // a quarter of a whole decision (CPU profile of Planner.plan).
    const base = this.basePolicy;
    const policy: RoutingPolicy = {
      balancedWeights: base.balancedWeights,
      fallbackCount: base.fallbackCount,
      nearTop: base.nearTop,
      unhealthyFactor: base.unhealthyFactor,
      qualityFloor: base.qualityFloor,
      priority,
      explicitModel,
      rule,
      allowedModels: allowed,
    };
    let decision = decideRoute(features, this.config.models, this.health, policy, this.random);
    const exploring =
      this.exploration !== undefined &&
      decision.model !== undefined &&
      !explicitModel &&
      !rule?.models?.length &&
      this.random() < this.exploration.share;
    if (exploring) decision = explore(decision as RouteDecision, this.exploration!.evidenceOf, this.random);
    return { features, decision };
  }

  /** The learned router's P(a good answer) for every labelled model, from the last user message. */
  private predict(request: ChatRequest, features: RequestFeatures, learned: LearnedRouting): void {
    if (learned.tasks && !learned.tasks.has(features.task)) return;
    const text = ruleText(request);
    if (text.length === 0) return;
    const byLabel = learned.model.predict(text);
    const predicted: Record<string, number> = {};
    for (const [model, index] of learned.labels) predicted[model] = byLabel[index]!;
    features.predictedQuality = predicted;
  }
}

/** The error for a request no model can take now. */
export function noRouteError(noRoute: NoRoute): GatewayError {
  if (
    noRoute.excluded.length > 0 &&
    noRoute.excluded.every((entry) => entry.reason.includes('not allowed for this key'))
  ) {
    return new GatewayError(
      'model_not_allowed',
      `None of the models this key may use can take the request: ${noRoute.reason}`,
      {
        param: 'model',
      },
    );
  }
  if (noRoute.contextOverflow) {
    return new GatewayError(
      'context_length_exceeded',
      `the prompt is larger than every eligible model's context window: ${noRoute.reason}`,
      {
        param: 'messages',
      },
    );
  }
  if (noRoute.requestProblem)
    return new GatewayError('no_eligible_model', noRoute.reason, { param: 'messages' });
  if (noRoute.retryAfterMs !== undefined) return rateLimited(noRoute.reason, [noRoute.retryAfterMs]);
  return new GatewayError('no_model_available', noRoute.reason);
}

/** Requests nested deeper than this are refused (400): every converter below is recursive. */
const maxNesting = 64;

/** A 400 naming where the value nests too deeply, before any recursive converter sees it. */
export function refuseDeepNesting(value: unknown, param?: string): void {
  const deep = tooDeep(value, maxNesting);
  if (deep === undefined) return;
  throw invalidRequest(
    `The request is nested too deeply (over ${maxNesting} levels at ${deep}).`,
    param ?? deep,
  );
}

export function modelNotAllowed(model: string): GatewayError {
  return new GatewayError('model_not_allowed', `This key may not use the model "${model}".`, {
    param: 'model',
  });
}

export function unknownModel(requested: string, names: readonly string[]): GatewayError {
  return new GatewayError(
    'model_not_found',
    `The model "${requested}" does not exist. Valid models: ${names.join(', ')}`,
    {
      param: 'model',
    },
  );
}

export function headerValue(headers: RequestHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Embeddings candidates: a named model and its own fallbacks that serve embeddings, or (auto) every model that does. */
export function embeddingsChain(
  model: string,
  models: readonly ModelSpec[],
  names: readonly string[],
): string[] {
  if (model === 'auto' || model.startsWith('auto:')) {
    const candidates = models.filter((spec) => spec.capabilities.has('embeddings')).map((spec) => spec.name);
    if (candidates.length === 0) throw invalidRequest('No configured model serves embeddings.', 'model');
    return candidates;
  }
  const spec = models.find((candidate) => candidate.name === model);
  if (!spec) throw unknownModel(model, names);
  const serves = (name: string) =>
    models.find((candidate) => candidate.name === name)?.capabilities.has('embeddings');
  const chain = [spec.name, ...spec.fallbacks].filter(serves);
  if (!spec.capabilities.has('embeddings') || chain.length === 0) {
    throw invalidRequest(
      `The model "${model}" does not serve embeddings (it lacks the embeddings capability).`,
      'model',
    );
  }
  return chain;
}
