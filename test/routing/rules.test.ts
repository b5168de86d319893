import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingRuleConfig } from '../../src/config/schema.ts';
import { compileRules, matchRule } from '../../src/routing/rules.ts';

/** A rule as the config schema outputs it (regex_flags defaults to 'i'). */
function rule(
  partial: Omit<Partial<RoutingRuleConfig>, 'match'> & { match: Partial<RoutingRuleConfig['match']> },
) {
  return { ...partial, match: { regex_flags: 'i', ...partial.match } } as RoutingRuleConfig;
}

const none = { headers: {} };

describe('compileRules / matchRule', () => {
  it("matches a regex on the text (case-insensitive by default) and returns the rule's routing", () => {
    const rules = compileRules([
      rule({
        name: 'sql',
        match: { regex: '\\bselect\\b.+\\bfrom\\b' },
        model: 'gpt-4o',
        task: 'coding',
        priority: 'quality',
      }),
    ]);
    const match = matchRule(rules, { text: 'SELECT name FROM users', ...none });
    assert.deepEqual({ ...match }, { rule: 'sql', models: ['gpt-4o'], task: 'coding', priority: 'quality' });
    assert.equal(matchRule(rules, { text: 'select a table for dinner', ...none }), undefined);
  });

  it('honours regex_flags and stays stateless with g/y flags', () => {
    const caseSensitive = compileRules([rule({ match: { regex: 'SQL', regex_flags: '' }, model: 'a' })]);
    assert.equal(matchRule(caseSensitive, { text: 'sql', ...none }), undefined);
    const global = compileRules([rule({ match: { regex: 'x', regex_flags: 'gi' }, model: 'a' })]);
    for (let i = 0; i < 3; i++) assert.ok(matchRule(global, { text: 'x', ...none }), `attempt ${i}`);
  });

  it('keywords: any one, case-insensitive, Chinese substrings', () => {
    const rules = compileRules([
      rule({ name: 'translate', match: { keywords: ['Translate', '翻译'] }, model: 'mini' }),
    ]);
    assert.equal(matchRule(rules, { text: 'please TRANSLATE this', ...none })?.rule, 'translate');
    assert.equal(matchRule(rules, { text: '帮我把这段话翻译成英文', ...none })?.rule, 'translate');
    assert.equal(matchRule(rules, { text: 'summarise this', ...none }), undefined);
  });

  it('metadata: every key must be equal', () => {
    const rules = compileRules([rule({ match: { metadata: { team: 'search', tier: 'gold' } }, model: 'a' })]);
    assert.ok(
      matchRule(rules, { text: '', metadata: { team: 'search', tier: 'gold', other: 'x' }, headers: {} }),
    );
    assert.equal(matchRule(rules, { text: '', metadata: { team: 'search' }, headers: {} }), undefined);
    assert.equal(matchRule(rules, { text: '', headers: {} }), undefined);
  });

  it('headers: names case-insensitive, values exact, array values match any', () => {
    const rules = compileRules([rule({ match: { headers: { 'X-Tenant': 'acme' } }, model: 'a' })]);
    assert.ok(matchRule(rules, { text: '', headers: { 'x-tenant': 'acme' } }));
    assert.ok(matchRule(rules, { text: '', headers: { 'X-TENANT': 'acme' } }));
    assert.ok(matchRule(rules, { text: '', headers: { 'x-tenant': ['other', 'acme'] } }));
    assert.equal(matchRule(rules, { text: '', headers: { 'x-tenant': 'ACME' } }), undefined);
    assert.equal(matchRule(rules, { text: '', headers: { 'x-tenant': undefined } }), undefined);
  });

  it('a rule matches only when all its conditions hold', () => {
    const rules = compileRules([
      rule({ name: 'both', match: { keywords: ['invoice'], headers: { 'x-app': 'billing' } }, model: 'a' }),
    ]);
    assert.ok(matchRule(rules, { text: 'an invoice', headers: { 'x-app': 'billing' } }));
    assert.equal(matchRule(rules, { text: 'an invoice', headers: {} }), undefined);
    assert.equal(matchRule(rules, { text: 'a receipt', headers: { 'x-app': 'billing' } }), undefined);
  });

  it('the first matching rule in config order wins; unnamed rules are "rule #i"', () => {
    const rules = compileRules([
      rule({ match: { keywords: ['nothing-matches-this'] }, model: 'a' }),
      rule({ match: { keywords: ['report'] }, models: ['b', 'c'] }),
      rule({ name: 'later', match: { keywords: ['report'] }, model: 'd' }),
    ]);
    const match = matchRule(rules, { text: 'weekly report', ...none });
    assert.equal(match?.rule, 'rule #1');
    assert.deepEqual(match?.models, ['b', 'c']);
  });

  it('model and models combine (model first, no duplicates); exclude is passed on', () => {
    const rules = compileRules([
      rule({ match: { keywords: ['x'] }, model: 'a', models: ['b', 'a'], exclude: ['z'] }),
    ]);
    const match = matchRule(rules, { text: 'x', ...none });
    assert.deepEqual(match?.models, ['a', 'b']);
    assert.deepEqual(match?.exclude, ['z']);
    assert.equal(match?.task, undefined);
  });

  it('rejects an invalid regex at compile time with its config path', () => {
    assert.throws(
      () => compileRules([rule({ match: { keywords: ['ok'] } }), rule({ match: { regex: '([a-z' } })]),
      (error: Error) =>
        error.message.startsWith('routing.rules.1.match.regex: ') &&
        /Unterminated|Invalid/.test(error.message),
    );
  });

  it('no rules, no match', () => {
    assert.equal(matchRule(compileRules([]), { text: 'anything', ...none }), undefined);
  });
});
