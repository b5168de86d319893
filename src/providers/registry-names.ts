/**
 * The provider names the config accepts. Kept apart from the registry itself so the config
 * schema does not import every adapter. `test/providers/registry.test.ts` checks both agree.
 */
export const providerNames = ['openai', 'anthropic', 'google', 'simulated'] as const;
export type ProviderName = (typeof providerNames)[number];
