/**
 * The provider registry: adding a provider is one folder under src/providers and one line here
 * (plus its name in registry-names.ts, which the config schema reads).
 */
import { anthropicProvider } from './anthropic/index.ts';
import { googleProvider } from './google/index.ts';
import { openaiProvider } from './openai/index.ts';
import type { ProviderName } from './registry-names.ts';
import { simulatedProvider } from './simulated/index.ts';
import type { ProviderModule } from './types.ts';

export const providers: Readonly<Record<ProviderName, ProviderModule>> = {
  openai: openaiProvider,
  anthropic: anthropicProvider,
  google: googleProvider,
  simulated: simulatedProvider,
};
