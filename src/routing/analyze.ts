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
 * (`hasTools`, `wantsJson`). Every regular expression is compiled once, in `createAnalyzer`.
 */
import type { ParsedConfig, TaskType } from '../config/schema.ts';
import type { ChatMessage, ChatRequest, ContentPart } from '../types/openai.ts';
import { countTokens } from './tokenizer.ts';
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

/** Coding keywords: unambiguous enough to make coding on their own (the article's rule, extended). */
export const DEFAULT_CODING_KEYWORDS: readonly string[] = [
  'code',
  'coding',
  'function',
  'functions',
  'bug',
  'bugs',
  'debug',
  'debugging',
  'compile',
  'compiler',
  'compilation error',
  'regex',
  'regexp',
  'regular expression',
  'SQL',
  'API',
  'APIs',
  'algorithm',
  'source code',
  'unit test',
  'unit tests',
  'refactor',
  'stack trace',
  'segfault',
  'syntax error',
  'null pointer',
  'thread-safe',
  'thread safe',
  'race condition',
  'deadlock',
  'connection pool',
  'data structure',
  'recursion',
  '代码',
  '源码',
  '函数',
  '编程',
  '调试',
  '报错',
  '算法',
  '接口',
  '线程安全',
  '连接池',
  '编译',
  '正则',
  '死锁',
  '多线程',
  '并发',
  '数据结构',
  '单元测试',
  '递归',
  '内存泄漏',
  '空指针',
];

/** Programming languages (regex sources): a weak signal in the conversation, a coding persona in a system prompt. */
const LANGUAGE_NAMES = [
  'Python',
  'JavaScript',
  'TypeScript',
  'Java',
  'golang',
  'goroutine',
  'Go language',
  'Go语言',
  'Rust',
  'C\\+\\+',
  'C#',
  'Kotlin',
  'PHP',
  'Scala',
  'Haskell',
  'Lua',
  'Node\\.?js',
];

/** Other technologies (regex sources): a weak signal, needs an imperative to build. */
const TECH_NAMES = [
  'Deno',
  'React',
  'Vue',
  'Angular',
  'Svelte',
  'Next\\.js',
  'Django',
  'Flask',
  'FastAPI',
  'Spring Boot',
  'Redis',
  'MySQL',
  'PostgreSQL',
  'Postgres',
  'MongoDB',
  'SQLite',
  'Kafka',
  'RabbitMQ',
  'Elasticsearch',
  'Docker',
  'Dockerfile',
  'Kubernetes',
  'k8s',
  'Nginx',
  'Linux',
  'Bash',
  'PowerShell',
  'Git',
  'HTML',
  'CSS',
  'JSON',
  'YAML',
  'GraphQL',
  'gRPC',
  'REST',
  'WebSocket',
  'Terraform',
  'pandas',
  'NumPy',
  'PyTorch',
  'TensorFlow',
];

/** Technical nouns: the object of a build request ("write a parser", "写一个爬虫"). */
const TECH_NOUNS_LATIN = [
  'class',
  'method',
  'parser',
  'scraper',
  'crawler',
  'CLI',
  'command-line tool',
  'library',
  'endpoint',
  'microservice',
  'backend',
  'frontend',
  'middleware',
  'SDK',
  'web app',
  'database',
  'schema',
  'cache',
  'plugin',
  'linked list',
  'binary tree',
  'hash map',
];
const TECH_NOUNS_CJK = [
  '脚本',
  '爬虫',
  '服务器',
  '服务端',
  '客户端',
  '数据库',
  '缓存',
  '队列',
  '线程',
  '进程',
  '组件',
  '插件',
  '框架',
  '中间件',
  '程序',
  '网页',
  '后端',
  '前端',
  '命令行',
  '单例',
  '微服务',
  '模块',
  '类库',
];

/** A system prompt naming one of these roles sets up a coding persona. */
const CODING_ROLES = [
  'engineer',
  'developer',
  'programmer',
  'coder',
  'software architect',
  '工程师',
  '程序员',
  '开发者',
  '开发工程师',
];

/** Build verbs, matched only when not inside a how-question ("怎么写", "how do I write"). */
const BUILD_VERBS_LATIN =
  'write|implement|build|create|develop|fix|debug|refactor|optimi[sz]e|rewrite|port|generate|design';
const BUILD_VERBS_CJK = '写|实现|编写|开发|修复|调试|重构|优化|设计|生成|搭建|封装|改写';
const HOW_PREFIX_LATIN =
  'how\\s+(?:to|do\\s+(?:i|you|we)|can\\s+(?:i|you|we)|should\\s+(?:i|we)|would\\s+(?:i|you))\\s+';
const HOW_PREFIX_CJK = '(?:怎么|怎样|如何|咋|怎么样)(?:去|来|才能)?';

/** Stack traces and error lines from common runtimes. */
const STACK_TRACE_SOURCES = [
  String.raw`Traceback \(most recent call last\)`,
  String.raw`^\s*File "[^"\n]+", line \d+`,
  String.raw`\bat\s+[\w$.<>[\]/\\-]+\s*\([^()\n]*:\d+(?::\d+)?\)`,
  String.raw`^\s+at\s+\S+:\d+:\d+\s*$`,
  'Exception in thread "',
  '^panic: ',
  String.raw`goroutine \d+ \[`,
  String.raw`thread '[^'\n]+' panicked at`,
  String.raw`\b[A-Z]\w*(?:Error|Exception): \S`,
  'Segmentation fault|core dumped',
];

/** Code syntax that rarely appears in prose (case-sensitive). */
const CODE_SYNTAX_SOURCES = [
  String.raw`^\s*(?:def|class)\s+\w+\s*[(:]`,
  String.raw`\bfunction\s*\w*\s*\([^)\n]*\)\s*\{`,
  String.raw`\b(?:const|let|var)\s+\w+\s*=`,
  String.raw`#include\s*[<"]`,
  String.raw`\bpublic\s+(?:static\s+)?(?:void|class|int|String)\b`,
  String.raw`\bimport\s+[\w{}*, ]+\s+from\s+['"]`,
  String.raw`^\s*(?:from\s+[\w.]+\s+)?import\s+[\w.]+(?:\s+as\s+\w+)?\s*$`,
  String.raw`\bSELECT\s+[\w*,.\s]+\s+FROM\s+\w+`,
  String.raw`\b\w+(?:\.\w+)*\([^()\n]*\)\s*;`,
  '===|!==',
];

interface CodingMatchers {
  fence: RegExp;
  stackTrace: RegExp;
  syntax: RegExp;
  keyword: RegExp;
  techTerm: RegExp;
  buildVerb: RegExp;
  codingPersona: RegExp;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const isLatin = (text: string) => /^[\x20-\x7e]+$/.test(text);

/**
 * One alternation for a word list. Latin words get ASCII word boundaries (lookarounds, so "C++",
 * "C#" and a word glued to Chinese text all work); CJK words match as substrings.
 */
function wordListRegex(sources: readonly string[], flags: string): RegExp {
  const latin = sources.filter((source) => isLatin(source.replace(/\\/g, '')));
  const cjk = sources.filter((source) => !latin.includes(source));
  const parts: string[] = [];
  if (latin.length > 0) parts.push(`(?<![A-Za-z0-9_])(?:${latin.join('|')})(?![A-Za-z0-9_])`);
  if (cjk.length > 0) parts.push(`(?:${cjk.join('|')})`);
  return new RegExp(parts.join('|'), flags);
}

export const __matchers = () => compileCodingMatchers([]);
function compileCodingMatchers(extraKeywords: readonly string[]): CodingMatchers {
  const keywords = [...DEFAULT_CODING_KEYWORDS, ...extraKeywords]
    .filter((k) => k.length > 0)
    .map(escapeRegex);
  const techTerms = [
    ...LANGUAGE_NAMES,
    ...TECH_NAMES,
    ...TECH_NOUNS_LATIN.map(escapeRegex),
    ...TECH_NOUNS_CJK,
  ];
  return {
    fence: /```|~~~/,
    stackTrace: new RegExp(STACK_TRACE_SOURCES.join('|'), 'm'),
    syntax: new RegExp(CODE_SYNTAX_SOURCES.join('|'), 'm'),
    keyword: wordListRegex(keywords, 'i'),
    techTerm: wordListRegex(techTerms, 'i'),
    buildVerb: new RegExp(
      `(?<!${HOW_PREFIX_LATIN})(?<![A-Za-z0-9_])(?:${BUILD_VERBS_LATIN})(?![A-Za-z0-9_])|(?<!${HOW_PREFIX_CJK})(?:${BUILD_VERBS_CJK})`,
      'i',
    ),
    codingPersona: wordListRegex([...LANGUAGE_NAMES, ...CODING_ROLES.map(escapeRegex)], 'i'),
  };
}

/** The text of a message's content: a string, or its text parts. */
function contentText(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (part.type === 'text' && typeof (part as { text?: unknown }).text === 'string') {
      text += (text ? '\n' : '') + (part as { text: string }).text;
    }
  }
  return text;
}

function countImageParts(content: ChatMessage['content']): number {
  if (!Array.isArray(content)) return 0;
  let images = 0;
  for (const part of content as ContentPart[]) if (part.type === 'image_url') images++;
  return images;
}

const QUESTION_MARK = /[?？]/;

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

/** What one pass over the messages collects. */
interface MessageScan {
  systemText: string;
  conversationText: string;
  /** Everything that is sent as prompt tokens: message texts, tool-call arguments, tool definitions. */
  tokenText: string;
  lastUserText: string;
  images: number;
  toolHistory: boolean;
}

function scanMessages(request: ChatRequest): MessageScan {
  const system: string[] = [];
  const conversation: string[] = [];
  const extraTokenText: string[] = [];
  let lastUserText = '';
  let images = 0;
  let toolHistory = false;
  for (const message of request.messages) {
    const text = contentText(message.content);
    images += countImageParts(message.content);
    if (isSystemRole(message.role)) system.push(text);
    else conversation.push(text);
    if (message.role === 'user') lastUserText = text;
    if (message.role === 'tool' || message.role === 'function') toolHistory = true;
    if (message.tool_calls?.length) {
      toolHistory = true;
      for (const call of message.tool_calls) extraTokenText.push(call.function.name, call.function.arguments);
    }
  }
  // Tool definitions are part of the prompt the model reads, so they count (not analysed: they always say "function").
  if (request.tools?.length) extraTokenText.push(JSON.stringify(request.tools));
  const systemText = system.join('\n');
  const conversationText = conversation.join('\n');
  const tokenText = [systemText, conversationText, ...extraTokenText]
    .filter((text) => text.length > 0)
    .join('\n');
  return { systemText, conversationText, tokenText, lastUserText, images, toolHistory };
}

/** Why this is a coding request, or undefined. */
function detectCoding(matchers: CodingMatchers, scan: MessageScan): string | undefined {
  const all = scan.systemText ? `${scan.systemText}\n${scan.conversationText}` : scan.conversationText;
  if (matchers.fence.test(all)) return 'code fence';
  if (matchers.stackTrace.test(all)) return 'stack trace';
  if (matchers.syntax.test(all)) return 'code syntax';
  const keyword = matchers.keyword.exec(all);
  if (keyword) return `code keyword "${keyword[0]}"`;
  const tech = matchers.techTerm.exec(scan.conversationText);
  if (tech && matchers.buildVerb.test(scan.conversationText)) return `build request naming "${tech[0]}"`;
  const persona = scan.systemText ? matchers.codingPersona.exec(scan.systemText) : null;
  if (persona) return `coding system prompt ("${persona[0]}")`;
  return undefined;
}

function outputTokens(request: ChatRequest): number | undefined {
  return request.max_completion_tokens ?? request.max_tokens ?? undefined;
}

/**
 * Builds the analyser once per config (regexes compiled here, never per request).
 * @example const analyze = createAnalyzer(config.routing.analysis); analyze(request).task // 'coding'
 */
export function createAnalyzer(config: AnalysisConfig): Analyze {
  const matchers = compileCodingMatchers(config.coding_keywords ?? []);
  return (request, ruleMatch) => {
    const scan = scanMessages(request);
    const count = countTokens(scan.tokenText, { exactChars: config.exact_count_chars });
    const promptTokens =
      count.tokens +
      request.messages.length * TOKENS_PER_MESSAGE +
      REPLY_PRIMING_TOKENS +
      scan.images * TOKENS_PER_IMAGE;
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
  if (promptTokens < config.simple_qa_max_tokens && QUESTION_MARK.test(scan.lastUserText)) {
    return { task: 'simple_qa', taskReason: `short question, ${promptTokens} tokens` };
  }
  return { task: 'creative_writing', taskReason: 'no specific signal' };
}
