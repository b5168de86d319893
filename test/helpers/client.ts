import type { ModelSpec } from '../../src/config/model-spec.ts';
import { createScrubber } from '../../src/lib/secrets.ts';
import { createModelClient } from '../../src/providers/registry.ts';
import type { ModelClient, ProviderDeps } from '../../src/providers/types.ts';

/** A model's client as the gateway builds it: the adapter behind the registry's guard, scrubbing this spec's secrets. */
export function guardedClient(spec: ModelSpec, deps: ProviderDeps): ModelClient {
  return createModelClient(spec, deps, createScrubber([spec.apiKey, ...Object.values(spec.headers)]));
}
