/**
 * Values that satisfy a JSON Schema, drawn from the seeded source: what the simulated models put
 * in tool-call arguments and structured answers. Covers what tool and response schemas use in
 * practice: type (or a list of types), const, enum, required and optional properties, nested
 * objects and arrays (items, prefixItems, min/maxItems, uniqueItems), anyOf/oneOf/allOf, local
 * `$ref`s (`#/$defs/...`), string formats and lengths, numeric bounds and multipleOf, and
 * `pattern`s of the common subset (see pattern-sample.ts).
 *
 * Depth and size are bounded: below `shallowDepth` (or once the value budget is spent) only
 * required properties and minimum array lengths are generated, and recursion stops at `maxDepth`.
 */
import type { RandomSource } from '../../lib/random.ts';
import { sampleFromPattern } from './pattern-sample.ts';

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
type SchemaObject = Record<string, unknown>;

export interface SampleSource {
  random: RandomSource;
  /** Words, in order, that strings are made of (the prompt's, so arguments echo what was asked). */
  words: readonly string[];
}

const shallowDepth = 4;
const maxDepth = 24;
/** Values generated beyond the required ones, so wide and deep schemas stay small. */
const optionalBudget = 400;
const defaultMaxItems = 3;
const itemCap = 100;

interface State extends SampleSource {
  root: unknown;
  spent: number;
}

/** A value valid against `schema` (as far as the keywords above go), deterministic for the source. */
export function sampleFromSchema(schema: unknown, source: SampleSource): JsonValue {
  const words = source.words.length > 0 ? source.words : ['simulated'];
  return sample(schema, { random: source.random, words, root: schema, spent: 0 }, 0);
}

function sample(schema: unknown, state: State, depth: number): JsonValue {
  if (schema === false || depth > maxDepth) return null;
  if (!isObject(schema)) return words(state, 1, 2);
  const flat = flatten(schema, state, depth);
  if ('const' in flat) return structuredClone(flat.const as JsonValue);
  if (Array.isArray(flat.enum) && flat.enum.length > 0) return structuredClone(pick(state, flat.enum));
  state.spent++;
  switch (chooseType(flat, state, depth)) {
    case 'object':
      return sampleObject(flat, state, depth);
    case 'array':
      return sampleArray(flat, state, depth);
    case 'integer':
      return sampleNumber(flat, state, true);
    case 'number':
      return sampleNumber(flat, state, false);
    case 'boolean':
      return state.random() < 0.5;
    case 'null':
      return null;
    default:
      return sampleString(flat, state);
  }
}

/** Resolve `$ref`, merge `allOf`, pick one branch of `anyOf`/`oneOf`: one plain schema object. */
function flatten(schema: SchemaObject, state: State, depth: number): SchemaObject {
  if (depth > maxDepth) return {};
  let current = schema;
  for (let hops = 0; hops < maxDepth; hops++) {
    const { $ref, allOf, anyOf, oneOf, ...rest } = current;
    if (typeof $ref === 'string') {
      const target = resolvePointer(state.root, $ref);
      current = isObject(target) ? merge(target, rest) : rest;
      if (allOf !== undefined) current.allOf = allOf;
      if (anyOf !== undefined) current.anyOf = anyOf;
      if (oneOf !== undefined) current.oneOf = oneOf;
      continue;
    }
    if (Array.isArray(allOf)) {
      let merged: SchemaObject = rest;
      for (const part of allOf) {
        if (isObject(part)) merged = merge(merged, flatten(part, state, depth + 1));
      }
      if (anyOf !== undefined) merged.anyOf = anyOf;
      if (oneOf !== undefined) merged.oneOf = oneOf;
      current = merged;
      continue;
    }
    const branches = (Array.isArray(anyOf) ? anyOf : Array.isArray(oneOf) ? oneOf : []).filter(isObject);
    if (branches.length > 0) {
      current = merge(rest, chooseBranch(branches, state, depth));
      continue;
    }
    return rest;
  }
  return {};
}

/** Deep enough, prefer a branch that ends the recursion (null or a scalar). */
function chooseBranch(branches: SchemaObject[], state: State, depth: number): SchemaObject {
  if (depth >= shallowDepth || state.spent >= optionalBudget) {
    const leaf = branches.find(
      (branch) => isScalarType(branch.type) || 'const' in branch || 'enum' in branch,
    );
    if (leaf) return leaf;
  }
  return pick(state, branches);
}

function chooseType(schema: SchemaObject, state: State, depth: number): string {
  const { type } = schema;
  if (typeof type === 'string') return type;
  if (Array.isArray(type) && type.length > 0) {
    const real = type.filter((name): name is string => typeof name === 'string' && name !== 'null');
    if (real.length === 0) return 'null';
    if (depth >= shallowDepth && type.includes('null')) return 'null';
    return pick(state, real);
  }
  if ('properties' in schema || 'required' in schema || 'additionalProperties' in schema) return 'object';
  if ('items' in schema || 'prefixItems' in schema || 'minItems' in schema) return 'array';
  if ('minimum' in schema || 'maximum' in schema || 'multipleOf' in schema) return 'number';
  return 'string';
}

function sampleObject(schema: SchemaObject, state: State, depth: number): JsonValue {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(
    Array.isArray(schema.required) ? schema.required.filter((key) => typeof key === 'string') : [],
  );
  const result: Record<string, JsonValue> = {};
  for (const [key, propertySchema] of Object.entries(properties)) {
    const wanted =
      required.has(key) || (depth < shallowDepth && state.spent < optionalBudget && state.random() < 0.5);
    if (wanted) result[key] = sample(propertySchema, state, depth + 1);
  }
  const extra = schema.additionalProperties;
  const extraSchema = isObject(extra) ? extra : true;
  for (const key of required) {
    if (!(key in result)) result[key] = sample(extraSchema, state, depth + 1);
  }
  const minProperties = typeof schema.minProperties === 'number' ? schema.minProperties : 0;
  for (let n = 0; Object.keys(result).length < minProperties && extra !== false && n < itemCap; n++) {
    result[`${words(state, 1, 1)}_${n + 1}`] = sample(extraSchema, state, depth + 1);
  }
  return result;
}

function sampleArray(schema: SchemaObject, state: State, depth: number): JsonValue {
  const prefix = Array.isArray(schema.prefixItems)
    ? schema.prefixItems
    : Array.isArray(schema.items)
      ? schema.items
      : [];
  const rest = Array.isArray(schema.items) ? schema.additionalItems : schema.items;
  const minItems = Math.min(itemCap, nonNegative(schema.minItems) ?? 0);
  const maxItems = Math.min(itemCap, nonNegative(schema.maxItems) ?? Number.POSITIVE_INFINITY);
  const shallow = depth >= shallowDepth || state.spent >= optionalBudget;
  const upper = Math.max(minItems, Math.min(maxItems, shallow ? minItems : defaultMaxItems));
  const lower = shallow ? minItems : Math.min(upper, Math.max(minItems, 1));
  const length = lower + Math.floor(state.random() * (upper - lower + 1));
  const result: JsonValue[] = [];
  const seen = new Set<string>();
  for (let attempt = 0; result.length < length && attempt < length * 5 + 5; attempt++) {
    const index = result.length;
    const itemSchema = index < prefix.length ? prefix[index] : rest === undefined ? true : rest;
    if (itemSchema === false) break;
    const value = sample(itemSchema, state, depth + 1);
    if (schema.uniqueItems === true) {
      const key = JSON.stringify(value);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    result.push(value);
  }
  return result;
}

function sampleNumber(schema: SchemaObject, state: State, integer: boolean): number {
  let low = typeof schema.minimum === 'number' ? schema.minimum : undefined;
  let high = typeof schema.maximum === 'number' ? schema.maximum : undefined;
  let lowOpen = false;
  let highOpen = false;
  if (typeof schema.exclusiveMinimum === 'number' && (low === undefined || schema.exclusiveMinimum >= low)) {
    low = schema.exclusiveMinimum;
    lowOpen = true;
  } else if (schema.exclusiveMinimum === true) lowOpen = true; // draft-04 form
  if (
    typeof schema.exclusiveMaximum === 'number' &&
    (high === undefined || schema.exclusiveMaximum <= high)
  ) {
    high = schema.exclusiveMaximum;
    highOpen = true;
  } else if (schema.exclusiveMaximum === true) highOpen = true;
  const from = low ?? (high !== undefined ? Math.min(0, high - 100) : 0);
  const to = high ?? from + 100;
  const step = typeof schema.multipleOf === 'number' && schema.multipleOf > 0 ? schema.multipleOf : undefined;
  if (integer || step !== undefined) {
    const unit = step ?? 1;
    // Multiples of the unit inside the bounds; with a fractional multipleOf an integer schema
    // takes the smallest multiple that is a whole number.
    const scale = integer ? wholeMultiple(unit) : unit;
    let first = Math.ceil(from / scale);
    let last = Math.floor(to / scale);
    if (lowOpen && first * scale <= from) first++;
    if (highOpen && last * scale >= to) last--;
    if (last < first) return roundTo(first * scale, scale);
    return roundTo((first + Math.floor(state.random() * (last - first + 1))) * scale, scale);
  }
  const value = Math.round((from + state.random() * (to - from)) * 100) / 100;
  const inside = (candidate: number) =>
    (lowOpen ? candidate > from : candidate >= from) && (highOpen ? candidate < to : candidate <= to);
  return inside(value) ? value : (from + to) / 2;
}

/** Keep a multiple of a decimal step free of binary noise (0.1 * 3 = 0.30000000000000004). */
function roundTo(value: number, step: number): number {
  let decimals = 0;
  while (decimals < 12 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-9)
    decimals++;
  return Number(value.toFixed(decimals));
}

function wholeMultiple(unit: number): number {
  for (let k = 1; k <= 1000; k++) {
    const candidate = roundTo(unit * k, unit);
    if (Number.isInteger(candidate)) return candidate;
  }
  return Math.ceil(unit);
}

function sampleString(schema: SchemaObject, state: State): string {
  const minLength = nonNegative(schema.minLength) ?? 0;
  const maxLength = nonNegative(schema.maxLength) ?? Number.POSITIVE_INFINITY;
  const formatted = typeof schema.format === 'string' ? formatValue(schema.format, state) : undefined;
  if (formatted !== undefined) return formatted;
  const text = fitLength(words(state, 1, 3), minLength, maxLength, state);
  if (typeof schema.pattern !== 'string') return text;
  return matchPattern(schema.pattern, text, state, minLength, maxLength);
}

/** Prompt words that match the pattern first (they echo the user), else a string built from it. */
function matchPattern(pattern: string, text: string, state: State, min: number, max: number): string {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, 'u');
  } catch {
    return text;
  }
  const fits = (candidate: string) => {
    const length = [...candidate].length;
    return length >= min && length <= max && regex.test(candidate);
  };
  const echoes = [text, ...state.words, ...state.words.map((word) => word.toUpperCase())];
  const echo = echoes.find(fits);
  if (echo !== undefined) return echo;
  for (let attempt = 0; attempt < 5; attempt++) {
    const built = sampleFromPattern(pattern, state.random);
    if (built === undefined) break;
    if (fits(built)) return built;
  }
  return text;
}

function formatValue(format: string, state: State): string | undefined {
  const day = Date.UTC(2025, 0, 1) + Math.floor(state.random() * 365) * 86_400_000;
  const instant = new Date(day + Math.floor(state.random() * 86_400) * 1000).toISOString();
  const word = slug(words(state, 1, 1));
  switch (format) {
    case 'date-time':
      return instant.replace('.000Z', 'Z');
    case 'date':
      return instant.slice(0, 10);
    case 'time':
      return `${instant.slice(11, 19)}Z`;
    case 'email':
      return `${word}@example.com`;
    case 'hostname':
      return `${word}.example.com`;
    case 'uri':
    case 'url':
    case 'iri':
      return `https://example.com/${word}`;
    case 'uri-reference':
    case 'iri-reference':
      return `/${word}`;
    case 'uuid':
      return uuid(state);
    case 'ipv4':
      return `192.0.2.${1 + Math.floor(state.random() * 254)}`;
    case 'ipv6':
      return `2001:db8::${Math.floor(state.random() * 0xffff).toString(16)}`;
    case 'duration':
      return `PT${1 + Math.floor(state.random() * 59)}M`;
    default:
      return undefined;
  }
}

function uuid(state: State): string {
  let hex = '';
  for (let i = 0; i < 32; i++) hex += Math.floor(state.random() * 16).toString(16);
  const variant = '89ab'[Math.floor(state.random() * 4)];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20)}`;
}

/** A run of consecutive prompt words, so strings read like a phrase of what the user wrote. */
function words(state: State, least: number, most: number): string {
  const count = Math.min(state.words.length, least + Math.floor(state.random() * (most - least + 1)));
  const start = Math.floor(state.random() * (state.words.length - count + 1));
  return state.words.slice(start, start + count).join(' ');
}

/** Pad with more words or cut, counting code points as JSON Schema does. */
function fitLength(text: string, min: number, max: number, state: State): string {
  let result = text;
  while ([...result].length < min) result += ` ${pick(state, state.words)}`;
  const points = [...result];
  return points.length > max ? points.slice(0, max).join('') : result;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '') || 'user';
}

function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Merge two schemas for allOf and branch selection: properties joined, required unioned. */
function merge(base: SchemaObject, extra: SchemaObject): SchemaObject {
  const merged: SchemaObject = { ...base, ...extra };
  if (isObject(base.properties) && isObject(extra.properties)) {
    merged.properties = { ...base.properties, ...extra.properties };
  }
  if (Array.isArray(base.required) && Array.isArray(extra.required)) {
    merged.required = [...new Set([...base.required, ...extra.required])];
  }
  return merged;
}

function isScalarType(type: unknown): boolean {
  return typeof type === 'string' && type !== 'object' && type !== 'array';
}

function nonNegative(value: unknown): number | undefined {
  return typeof value === 'number' && value >= 0 ? Math.floor(value) : undefined;
}

function pick<T>(state: State, items: readonly T[]): T {
  return items[Math.floor(state.random() * items.length)] as T;
}

function isObject(value: unknown): value is SchemaObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
