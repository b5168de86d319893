/**
 * Custom routing rules (the brief's "regular expressions, keywords"), compiled once from the config.
 * The first rule, in config order, whose every given condition holds wins.
 */
import type { RoutingRuleConfig } from '../config/schema.ts';
import type { RuleMatch } from './types.ts';

export type RequestHeaders = Record<string, string | string[] | undefined>;

export interface RuleInput {
  /** The user text the rule's regex and keywords are tested on. */
  text: string;
  metadata?: Record<string, string>;
  headers: RequestHeaders;
}

/**
 * Keywords, matched case-insensitively without lower-casing the text (a copy of a long prompt):
 * words with letter case in one `i` expression, caseless ones (Chinese) by substring search.
 */
interface Keywords {
  cased: RegExp | undefined;
  caseless: string[];
}

interface CompiledRule {
  match: RuleMatch;
  regex: RegExp | undefined;
  keywords: Keywords | undefined;
  metadata: Array<[string, string]> | undefined;
  /** Names lower-cased. */
  headers: Array<[string, string]> | undefined;
}

export interface CompiledRules {
  readonly rules: readonly CompiledRule[];
}

/**
 * Compiles the rules; throws `routing.rules.<i>.match.regex: <why>` for an invalid regex.
 * @example compileRules([{ name: 'sql', match: { regex: '\\bSELECT\\b', regex_flags: 'i' }, model: 'gpt-4o' }])
 */
export function compileRules(rules: readonly RoutingRuleConfig[]): CompiledRules {
  return { rules: rules.map(compileRule) };
}

function compileRule(rule: RoutingRuleConfig, index: number): CompiledRule {
  return {
    match: ruleResult(rule, index),
    regex: compileRegex(rule, index),
    keywords: rule.match.keywords ? compileKeywords(rule.match.keywords) : undefined,
    metadata: rule.match.metadata ? Object.entries(rule.match.metadata) : undefined,
    headers: rule.match.headers
      ? Object.entries(rule.match.headers).map(([name, value]) => [name.toLowerCase(), value])
      : undefined,
  };
}

function compileRegex(rule: RoutingRuleConfig, index: number): RegExp | undefined {
  if (rule.match.regex === undefined) return undefined;
  // `g` and `y` make `test` stateful (lastIndex): one request's match would shift the next one's.
  const flags = (rule.match.regex_flags ?? 'i').replace(/[gy]/g, '');
  try {
    return new RegExp(rule.match.regex, flags);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`routing.rules.${index}.match.regex: ${why}`);
  }
}

function compileKeywords(keywords: readonly string[]): Keywords {
  const hasCase = (word: string) => word.toLowerCase() !== word.toUpperCase();
  const cased = keywords.filter((word) => word.length > 0 && hasCase(word));
  const escaped = cased.map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return {
    cased: escaped.length > 0 ? new RegExp(escaped.join('|'), 'i') : undefined,
    caseless: keywords.filter((word) => word.length > 0 && !hasCase(word)),
  };
}

function ruleResult(rule: RoutingRuleConfig, index: number): RuleMatch {
  const result: RuleMatch = { rule: rule.name ?? `rule #${index}` };
  const models = [...(rule.model ? [rule.model] : []), ...(rule.models ?? [])];
  if (rule.task) result.task = rule.task;
  if (models.length > 0) result.models = [...new Set(models)];
  if (rule.exclude?.length) result.exclude = [...rule.exclude];
  if (rule.priority) result.priority = rule.priority;
  // Shared by every request this rule matches: frozen so no caller can change it for the next.
  if (result.models) Object.freeze(result.models);
  if (result.exclude) Object.freeze(result.exclude);
  return Object.freeze(result);
}

/**
 * The first rule whose every condition holds, or undefined.
 * @example matchRule(rules, { text: 'SELECT * FROM t', headers: {} })?.rule // 'sql'
 */
export function matchRule(compiled: CompiledRules, input: RuleInput): RuleMatch | undefined {
  for (const rule of compiled.rules) {
    if (rule.regex && !rule.regex.test(input.text)) continue;
    if (rule.keywords && !hasKeyword(rule.keywords, input.text)) continue;
    if (rule.metadata && !rule.metadata.every(([key, value]) => input.metadata?.[key] === value)) continue;
    if (
      rule.headers &&
      !rule.headers.every(([name, value]) => headerEquals(headerValue(input.headers, name), value))
    ) {
      continue;
    }
    return rule.match;
  }
  return undefined;
}

function hasKeyword(keywords: Keywords, text: string): boolean {
  for (const word of keywords.caseless) if (text.includes(word)) return true;
  return keywords.cased?.test(text) === true;
}

/** Node gives header names lower-cased: look that up first, then any spelling. */
function headerValue(headers: RequestHeaders, lowerName: string): string | string[] | undefined {
  const direct = headers[lowerName];
  if (direct !== undefined) return direct;
  for (const name in headers) {
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[name];
  }
  return undefined;
}

function headerEquals(actual: string | string[] | undefined, expected: string): boolean {
  if (actual === undefined) return false;
  return Array.isArray(actual) ? actual.includes(expected) : actual === expected;
}
