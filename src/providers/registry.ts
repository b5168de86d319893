/**
 * The provider registry: adding a provider is one folder under src/providers and one line here.
 * The config schema reads the names and each provider's default capabilities and options from
 * here, so nothing else changes.
 */
import type { ModelSpec } from '../config/model-spec.ts';
import type { Scrub } from '../lib/secrets.ts';
import { anthropicProvider } from './anthropic/index.ts';
import { googleProvider } from './google/index.ts';
import { guardClient } from './guard.ts';
import { openaiProvider } from './openai/index.ts';
import { isSimulatedClient, simulatedProvider } from './simulated/index.ts';
import type { ModelClient, ProviderDeps, ProviderModule } from './types.ts';

export const providers: Readonly<Record<string, ProviderModule>> = Object.fromEntries(
  [openaiProvider, anthropicProvider, googleProvider, simulatedProvider].map((module) => [
    module.name,
    module,
  ]),
);

export const providerNames: readonly string[] = Object.keys(providers);

/** The client for one configured model, behind the guard that classifies and scrubs its failures. */
export function createModelClient(spec: ModelSpec, deps: ProviderDeps, scrub: Scrub): ModelClient {
  const provider = providers[spec.provider];
  if (!provider) throw new Error(`unknown provider "${spec.provider}"`);
  const client = provider.create(spec, { ...deps, scrub });
  const guarded = guardClient(client, scrub);
  // A simulated model's runtime control (admin API, simulator) stays reachable behind the guard.
  return isSimulatedClient(client) ? Object.assign(guarded, { control: client.control }) : guarded;
}
