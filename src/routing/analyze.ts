/**
 * Task analysis: what kind of request this is and what a model needs to take it.
 *
 * The brief's rules, in order: a rule's task -> an image part (multimodal) -> more than
 * `long_context_tokens` prompt tokens (long_context) -> coding -> a short question (simple_qa) ->
 * creative_writing.
 *
 * Coding vs. simple_qa (the brief's scenarios decide it):
 * - strong signals make coding whatever the form of the request: a code fence, a stack trace or error
 *   line, code syntax, a coding keyword ("代码", "function", "bug", "线程安全", ...) — as the brief's
 *   article, where the code-keyword rule comes before the short-question rule;
 * - a technology name (Python, Redis, React ...) or technical noun (连接池, 爬虫, parser ...) is a weak
 *   signal: it makes coding only with an imperative to build ("帮我写一个 Redis 连接池", "implement a
 *   Rust parser"), not in a how-question ("Python 列表推导式怎么写?" stays simple_qa -> the cheap
 *   model, as the brief's scenario says);
 * - a system prompt that sets up a coding persona ("You are a senior Python engineer") makes coding.
 *
 * Tools and a JSON response format do not change the task: they become hard capability filters
 * (`hasTools`, `wantsJson`). Every regular expression is compiled once (at module load, or in
 * `createAnalyzer` for the configured keywords), never per request.
 */
import type { ParsedConfig, TaskType } from '../config/schema.ts';
import type { ChatMessage, ChatRequest, ContentPart } from '../types/openai.ts';
import { countTokens, ESTIMATE_BAND, estimateTokens } from './tokenizer.ts';
import type { RequestFeatures, RuleMatch } from './types.ts';

export type AnalysisConfig = ParsedConfig['routing']['analysis'];
export type Analyze = (request: ChatRequest, ruleMatch?: RuleMatch) => RequestFeatures;

/** Chat framing per message (role and separators), as OpenAI's cookbook counts it. */
const TOKENS_PER_MESSAGE = 4;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
const REPLY_PRIMING_TOKENS = 3;
/**
 * An image part's cost without decoding the image: OpenAI's base cost for a low-detail image. A
 * high-detail image costs more (170 per 512-px tile); this is a lower bound, good enough for routing.
 */
const TOKENS_PER_IMAGE = 85;

/** A word list written as one comma-separated string: shorter to read than one word per line. */
const list = (words: string): string[] => words.split(',').map((word) => word.trim());

/** Coding keywords: unambiguous enough to make coding on their own (the article's rule, extended). */
export const DEFAULT_CODING_KEYWORDS: readonly string[] = list(
  'code, coding, function, functions, bug, bugs, debug, debugging, compile, compiler, compilation error, ' +
    'regex, regexp, regular expression, sql, api, apis, algorithm, algorithms, source code, unit test, ' +
    'unit tests, refactor, refactoring, stack trace, segfault, syntax error, null pointer, thread-safe, ' +
    'thread safe, race condition, deadlock, connection pool, data structure, recursion, ' +
    '代码, 源码, 函数, 编程, 调试, 报错, 算法, 接口, 线程安全, 连接池, 编译, 正则, 死锁, 多线程, 并发, ' +
    '数据结构, 单元测试, 递归, 内存泄漏, 空指针',
);

/** Programming languages: a weak signal in the conversation, a coding persona in a system prompt. */
const LANGUAGES = list(
  'python, javascript, typescript, java, golang, goroutine, go language, rust, c++, c#, kotlin, php, ' +
    'scala, haskell, lua, node.js, nodejs, go语言',
);

/** Other technologies and technical nouns: a weak signal, the object of a build request. */
const TECH_TERMS = list(
  'deno, react, vue, angular, svelte, next.js, django, flask, fastapi, spring boot, redis, mysql, ' +
    'postgresql, postgres, mongodb, sqlite, kafka, rabbitmq, elasticsearch, docker, dockerfile, kubernetes, ' +
    'k8s, nginx, linux, bash, powershell, git, html, css, json, yaml, graphql, grpc, websocket, ' +
    'terraform, pandas, numpy, pytorch, tensorflow, class, method, parser, scraper, crawler, cli, ' +
    'command-line tool, library, endpoint, microservice, backend, frontend, middleware, sdk, web app, ' +
    'database, schema, cache, plugin, linked list, binary tree, hash map, ' +
    '脚本, 爬虫, 服务器, 服务端, 客户端, 数据库, 缓存, 队列, 线程, 进程, 组件, 插件, 框架, 中间件, 程序, ' +
    '网页, 后端, 前端, 命令行, 单例, 微服务, 模块, 类库',
);

/** Build verbs: an imperative to build unless inside a how-question ("怎么写", "how do I write"). */
const BUILD_VERBS = list(
  'write, implement, build, create, develop, fix, debug, refactor, optimize, optimise, rewrite, port, ' +
    'generate, design, 写, 实现, 编写, 开发, 修复, 调试, 重构, 优化, 设计, 生成, 搭建, 封装, 改写',
);

/** A system prompt naming one of these roles (or a language) sets up a coding persona. */
const CODING_ROLES = list(
  'engineer, developer, programmer, coder, software architect, 工程师, 程序员, 开发者',
);

/** Words that make the (costlier) code-syntax expression worth running. */
const SYNTAX_HINTS = list('def, import, select, public, include, function, class');

/**
 * Cheap gates for the costlier expressions below: code punctuation (or a colon before a digit or a
 * line end, as in `file.js:12` and `def f():`, found by `colonHints`), and the words every stack
 * trace carries (or a colon before a digit). Each expression holds only alternatives of five or
 * more characters or one class: a two-character alternative such as `:\d` would cut short the
 * scan-ahead V8 uses to skip text, and cost the whole expression about twice as much.
 */
const SYNTAX_GATE = /[{};=<>|\\[\]`~]/;
const STACK_GATE = /error|exception|traceback|panic|goroutine|segmentation|core dumped/;

/** A colon before a digit (`file.js:12`: both hints) and one before a line end (`def f():`: syntax). */
const COLON_DIGIT = 1;
const COLON_LINE_END = 2;

/** Which colons a text has, as COLON_* bits (no object per call: it runs on every message text). */
function colonHints(text: string): number {
  let hints = 0;
  for (let at = text.indexOf(':'); at !== -1 && !(hints & COLON_DIGIT); at = text.indexOf(':', at + 1)) {
    const next = text.charCodeAt(at + 1);
    if (next >= 48 && next <= 57) hints |= COLON_DIGIT;
    else if (next === 10) hints |= COLON_LINE_END;
  }
  return hints;
}
/** Any CJK character: when there is none, the CJK expressions are skipped. */
const HAS_CJK = /[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]/;

/** How-question prefixes, tested on the text just before a build verb. */
const HOW_BEFORE_LATIN =
  /how\s+(?:to|do\s+(?:i|you|we)|can\s+(?:i|you|we)|should\s+(?:i|we)|would\s+(?:i|you))\s+$/;
const HOW_BEFORE_CJK = /(?:怎么|怎样|如何|咋)(?:去|来|才能)?$/;

/** Stack traces and error lines from common runtimes (case-sensitive, run only when hinted). */
const STACK_TRACE = new RegExp(
  [
    String.raw`Traceback \(most recent call last\)`,
    String.raw`File "[^"\n]+", line \d+`,
    String.raw`\bat [\w$.<>[\]/\\-]+ ?\([^()\n]*:\d+(?::\d+)?\)`,
    String.raw`\n[ \t]+at \S+:\d+:\d+`,
    'Exception in thread "',
    'panic: ',
    String.raw`goroutine \d+ \[`,
    "' panicked at",
    String.raw`\b[A-Z]\w*(?:Error|Exception): \S`,
    'Segmentation fault|core dumped',
  ].join('|'),
);

/** Code syntax that rarely appears in prose (case-sensitive, run only when hinted). */
const CODE_SYNTAX = new RegExp(
  [
    String.raw`(?:^|\n)[ \t]*(?:def|class) \w+ ?[(:]`,
    String.raw`\bfunction ?\w* ?\([^)\n]*\) ?\{`,
    String.raw`\b(?:const|let|var) \w+ ?=`,
    '#include ?[<"]',
    String.raw`\bpublic (?:static )?(?:void|class|int|String)\b`,
    String.raw`\bimport [\w{}*, ]+ from ['"]`,
    String.raw`(?:^|\n)[ \t]*(?:from [\w.]+ )?import [\w.]+(?: as \w+)?[ \t]*(?:\n|$)`,
    String.raw`\bSELECT [\w*,.\s]+ FROM \w+`,
    String.raw`\w\([^()\n]*\);[ \t]*(?:\n|$)`,
    '[=!]==',
  ].join('|'),
);

/** What one term is evidence of (bit flags: a term can be several, e.g. "debug" is a keyword and a verb). */
const KEYWORD = 1;
const TECH = 2;
const VERB = 4;
const PERSONA = 8;
const SYNTAX_HINT = 16;

/** CJK terms: one alternation per kind, run only on text that has CJK characters. */
interface CjkMatchers {
  keyword: RegExp | undefined;
  tech: RegExp;
  verb: RegExp;
  persona: RegExp;
}

interface CodingMatchers {
  /**
   * Every Latin term in one alternation (longest first), run once over the lower-cased text:
   * one pass of one expression is cheaper than one pass per word list, and than a JavaScript scan.
   */
  latinTerms: RegExp;
  termFlags: Map<string, number>;
  cjk: CjkMatchers;
}

const isLatin = (text: string) => /^[\x20-\x7e]+$/.test(text);
const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function compileLatinTerms(
  groups: Array<[readonly string[], number]>,
): Pick<CodingMatchers, 'latinTerms' | 'termFlags'> {
  const termFlags = new Map<string, number>();
  for (const [words, flags] of groups) {
    for (const word of words) {
      const text = word.toLowerCase();
      if (text.length > 0 && isLatin(text)) termFlags.set(text, (termFlags.get(text) ?? 0) | flags);
    }
  }
  const alternatives = [...termFlags.keys()].sort((a, b) => b.length - a.length).map(escapeRegex);
  // `\b` before, a lookahead after: "c++" and "c#" end in punctuation, where `\b` would fail.
  const latinTerms = new RegExp(`\\b(?:${alternatives.join('|')})(?![a-z0-9_])`, 'g');
  return { latinTerms, termFlags };
}

function cjkRegex(words: readonly string[]): RegExp | undefined {
  const cjk = words.filter((word) => word.length > 0 && !isLatin(word)).map(escapeRegex);
  // Tested on the lower-cased text: no `i` flag, which would make V8 case-fold every character.
  return cjk.length > 0 ? new RegExp(cjk.map((word) => word.toLowerCase()).join('|')) : undefined;
}

function compileCodingMatchers(extraKeywords: readonly string[]): CodingMatchers {
  const keywords = [...DEFAULT_CODING_KEYWORDS, ...extraKeywords];
  const cjkVerbs = BUILD_VERBS.filter((word) => !isLatin(word)).join('|');
  return {
    ...compileLatinTerms([
      [keywords, KEYWORD],
      [LANGUAGES, TECH | PERSONA],
      [TECH_TERMS, TECH],
      [BUILD_VERBS, VERB],
      [CODING_ROLES, PERSONA],
      [SYNTAX_HINTS, SYNTAX_HINT],
    ]),
    cjk: {
      keyword: cjkRegex(keywords),
      tech: cjkRegex([...LANGUAGES, ...TECH_TERMS])!,
      // The lookbehind sits after the verb, so it runs only where a verb matched.
      verb: new RegExp(`(?:${cjkVerbs})(?<!${HOW_BEFORE_CJK.source.slice(0, -1)}(?:${cjkVerbs}))`),
      persona: cjkRegex([...LANGUAGES, ...CODING_ROLES])!,
    },
  };
}

/** What one text holds. */
interface Evidence {
  keyword?: string;
  tech?: string;
  /** A build verb not inside a how-question. */
  imperative?: string;
  persona?: string;
  fence: boolean;
  syntaxHint: boolean;
  stackHint: boolean;
}

function applyTerm(evidence: Evidence, flags: number, term: string, lower: string, index: number): void {
  if (flags & KEYWORD) evidence.keyword ??= term;
  if (flags & TECH) evidence.tech ??= term;
  if (flags & PERSONA) evidence.persona ??= term;
  if (flags & SYNTAX_HINT) evidence.syntaxHint = true;
  if (flags & VERB && !HOW_BEFORE_LATIN.test(lower.slice(Math.max(0, index - 32), index))) {
    evidence.imperative ??= term;
  }
}

function gatherEvidence(matchers: CodingMatchers, text: string): Evidence {
  const evidence: Evidence = { fence: false, syntaxHint: false, stackHint: false };
  if (text.length === 0) return evidence;
  const lower = text.toLowerCase();
  const { latinTerms, termFlags, cjk } = matchers;
  latinTerms.lastIndex = 0;
  for (let match = latinTerms.exec(lower); match; match = latinTerms.exec(lower)) {
    applyTerm(evidence, termFlags.get(match[0]) ?? 0, match[0], lower, match.index);
  }
  evidence.fence = text.includes('```') || text.includes('~~~');
  const colons = colonHints(lower);
  evidence.syntaxHint ||= colons !== 0 || SYNTAX_GATE.test(lower);
  evidence.stackHint = (colons & COLON_DIGIT) !== 0 || STACK_GATE.test(lower);
  if (HAS_CJK.test(text)) {
    evidence.keyword ??= cjk.keyword?.exec(lower)?.[0];
    evidence.tech ??= cjk.tech.exec(lower)?.[0];
    evidence.imperative ??= cjk.verb.exec(lower)?.[0];
    evidence.persona ??= cjk.persona.exec(lower)?.[0];
  }
  return evidence;
}

/** The text of a message's content: a string, or its text parts. */
function contentText(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  const parts: string[] = [];
  pushTextParts(content, parts);
  return parts.join('\n');
}

/** Pushes the content's texts without concatenating them (a long prompt is never copied). */
function pushTextParts(content: ChatMessage['content'], into: string[]): void {
  if (typeof content === 'string') {
    into.push(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content) {
    const text = (part as { text?: unknown }).text;
    if (part.type === 'text' && typeof text === 'string') into.push(text);
  }
}

function countImageParts(content: ChatMessage['content']): number {
  if (!Array.isArray(content)) return 0;
  let images = 0;
  for (const part of content as ContentPart[]) if (part.type === 'image_url') images++;
  return images;
}

const isSystemRole = (role: string) => role === 'system' || role === 'developer';

/**
 * The text custom rules are matched against: the last user message (the turn being routed now).
 * @example ruleText({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }) // 'hi'
 */
export function ruleText(request: ChatRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!;
    if (message.role === 'user') return contentText(message.content);
  }
  return '';
}

/** What one pass over the messages collects: texts by role, kept as parts (joined only when analysed). */
interface MessageScan {
  systemParts: string[];
  conversationParts: string[];
  /** Everything sent as prompt tokens: message texts, tool-call arguments, tool definitions. */
  tokenParts: string[];
  lastUser: ChatMessage | undefined;
  images: number;
  toolHistory: boolean;
}

function scanMessages(request: ChatRequest): MessageScan {
  const scan: MessageScan = {
    systemParts: [],
    conversationParts: [],
    tokenParts: [],
    lastUser: undefined,
    images: 0,
    toolHistory: false,
  };
  for (const message of request.messages) {
    pushTextParts(message.content, isSystemRole(message.role) ? scan.systemParts : scan.conversationParts);
    pushTextParts(message.content, scan.tokenParts);
    scan.images += countImageParts(message.content);
    if (message.role === 'user') scan.lastUser = message;
    if (message.role === 'tool' || message.role === 'function') scan.toolHistory = true;
    if (message.tool_calls?.length) {
      scan.toolHistory = true;
      for (const call of message.tool_calls)
        scan.tokenParts.push(call.function.name, call.function.arguments);
    }
  }
  // Tool definitions are part of the prompt the model reads, so they count (not analysed: they always say "function").
  if (request.tools?.length) scan.tokenParts.push(JSON.stringify(request.tools));
  return scan;
}

/** Runs a costly expression only on a text whose scan hinted at it. */
const hinted = (hint: boolean, pattern: RegExp, text: string) => hint && pattern.test(text);

/** Why this is a coding request, or undefined. Strong signals first, then the weak combinations. */
function detectCoding(matchers: CodingMatchers, scan: MessageScan): string | undefined {
  const systemText = scan.systemParts.join('\n');
  const chatText = scan.conversationParts.join('\n');
  const system = gatherEvidence(matchers, systemText);
  const chat = gatherEvidence(matchers, chatText);
  if (system.fence || chat.fence) return 'code fence';
  if (hinted(system.stackHint, STACK_TRACE, systemText) || hinted(chat.stackHint, STACK_TRACE, chatText)) {
    return 'stack trace';
  }
  if (hinted(system.syntaxHint, CODE_SYNTAX, systemText) || hinted(chat.syntaxHint, CODE_SYNTAX, chatText)) {
    return 'code syntax';
  }
  const keyword = chat.keyword ?? system.keyword;
  if (keyword) return `code keyword "${keyword}"`;
  if (chat.tech && chat.imperative) return `build request ("${chat.imperative}" + "${chat.tech}")`;
  if (system.persona) return `coding system prompt ("${system.persona}")`;
  return undefined;
}

const isQuestion = (text: string) => text.includes('?') || text.includes('？');

function outputTokens(request: ChatRequest): number | undefined {
  return request.max_completion_tokens ?? request.max_tokens ?? undefined;
}

/** Output tokens a context-window check adds when the client sets no limit (decide.ts reserves up to this). */
const WINDOW_OUTPUT_RESERVE = 1024;

/**
 * Builds the analyser once per config (regexes compiled here, never per request).
 * `contextWindows`: the pool's context windows, where an estimated count is not good enough.
 * @example const analyze = createAnalyzer(config.routing.analysis); analyze(request).task // 'coding'
 */
export function createAnalyzer(config: AnalysisConfig, contextWindows: readonly number[] = []): Analyze {
  const matchers = compileCodingMatchers(config.coding_keywords ?? []);
  const taskThresholds = [config.simple_qa_max_tokens, config.long_context_tokens];
  /** True when the exact count could fall on the other side of a threshold than the estimate. */
  const nearThreshold = (estimate: number, output: number): boolean => {
    const low = estimate * ESTIMATE_BAND.low;
    const high = estimate * ESTIMATE_BAND.high;
    for (const threshold of taskThresholds) if (low <= threshold && threshold <= high) return true;
    for (const window of contextWindows) if (low + output <= window && window <= high + output) return true;
    return false;
  };
  return (request, ruleMatch) => {
    const scan = scanMessages(request);
    const overhead =
      request.messages.length * TOKENS_PER_MESSAGE + REPLY_PRIMING_TOKENS + scan.images * TOKENS_PER_IMAGE;
    let count: { tokens: number; estimated: boolean } | undefined;
    if (config.token_count === 'auto') {
      const estimate = estimateTokens(scan.tokenParts, { exactChars: config.exact_count_chars });
      const output = outputTokens(request) ?? WINDOW_OUTPUT_RESERVE;
      if (!nearThreshold(estimate + overhead, output)) count = { tokens: estimate, estimated: true };
    }
    count ??= countTokens(scan.tokenParts, { exactChars: config.exact_count_chars });
    const promptTokens = count.tokens + overhead;
    const { task, taskReason } = classify(config, matchers, scan, promptTokens, ruleMatch);
    const last = request.messages[request.messages.length - 1];
    const format = request.response_format?.type;
    return {
      task,
      taskReason,
      promptTokens,
      tokensEstimated: count.estimated,
      maxOutputTokens: outputTokens(request),
      hasImages: scan.images > 0,
      hasTools: (request.tools?.length ?? 0) > 0 || scan.toolHistory,
      wantsJson: format === 'json_object' || format === 'json_schema',
      hasPrefill: last?.role === 'assistant',
      stream: request.stream === true,
    };
  };
}

function classify(
  config: AnalysisConfig,
  matchers: CodingMatchers,
  scan: MessageScan,
  promptTokens: number,
  ruleMatch: RuleMatch | undefined,
): { task: TaskType; taskReason: string } {
  if (ruleMatch?.task) return { task: ruleMatch.task, taskReason: `rule ${ruleMatch.rule}` };
  if (scan.images > 0) {
    return {
      task: 'multimodal',
      taskReason: scan.images === 1 ? 'image part' : `${scan.images} image parts`,
    };
  }
  if (promptTokens > config.long_context_tokens) {
    return {
      task: 'long_context',
      taskReason: `${promptTokens} prompt tokens > ${config.long_context_tokens}`,
    };
  }
  const coding = detectCoding(matchers, scan);
  if (coding) return { task: 'coding', taskReason: coding };
  if (promptTokens < config.simple_qa_max_tokens && isQuestion(contentText(scan.lastUser?.content))) {
    return { task: 'simple_qa', taskReason: `short question, ${promptTokens} tokens` };
  }
  return { task: 'creative_writing', taskReason: 'no specific signal' };
}
