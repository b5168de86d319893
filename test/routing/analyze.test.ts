import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAnalyzer, ruleText } from '../../src/routing/analyze.ts';
import type { ChatMessage, ChatRequest } from '../../src/types/openai.ts';
import { analysisDefaults } from './fixtures.ts';

const analyze = createAnalyzer(analysisDefaults);

function ask(content: string, extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'auto', messages: [{ role: 'user', content }], ...extra };
}

function conversation(...messages: ChatMessage[]): ChatRequest {
  return { model: 'auto', messages };
}

const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } } as const;

describe('analyze: task types', () => {
  it('multimodal when a message carries an image part (before every other rule)', () => {
    const features = analyze(
      conversation({ role: 'user', content: [{ type: 'text', text: '描述这张图片' }, image] }),
    );
    assert.equal(features.task, 'multimodal');
    assert.equal(features.hasImages, true);
    assert.equal(features.taskReason, 'image part');
    const withCode = analyze(
      conversation({
        role: 'user',
        content: [{ type: 'text', text: 'fix the bug in this screenshot' }, image, image],
      }),
    );
    assert.equal(withCode.task, 'multimodal');
    assert.equal(withCode.taskReason, '2 image parts');
  });

  it('long_context above long_context_tokens, counted with a real tokenizer (Chinese is not chars/4)', () => {
    const analyzer = createAnalyzer({ ...analysisDefaults, long_context_tokens: 800 });
    // 1248 Chinese characters: chars/4 says 312 tokens, o200k counts about 900.
    const chinese = '请总结下面这份合同的主要条款和风险点并给出修改建议。'.repeat(48);
    const features = analyzer(ask(chinese));
    assert.equal(features.task, 'long_context');
    assert.ok(features.promptTokens > 800 && chinese.length / 4 < 800);
    assert.match(features.taskReason, /prompt tokens > 800/);
  });

  it('long_context at the default 8000 tokens, even when the text mentions code', () => {
    const features = analyze(ask(`Review this code: ${'lorem ipsum dolor sit amet '.repeat(2000)}`));
    assert.equal(features.task, 'long_context');
    assert.ok(features.promptTokens > 8000);
  });

  it('simple_qa for a short question with ? or the full-width ？', () => {
    assert.equal(analyze(ask('What is the capital of France?')).task, 'simple_qa');
    assert.equal(analyze(ask('法国的首都是哪里？')).task, 'simple_qa');
    assert.match(analyze(ask('法国的首都是哪里？')).taskReason, /short question/);
  });

  it('simple_qa only under simple_qa_max_tokens', () => {
    const analyzer = createAnalyzer({ ...analysisDefaults, simple_qa_max_tokens: 20 });
    assert.equal(analyzer(ask('Why?')).task, 'simple_qa');
    const long =
      'Tell me everything about the history of the Roman Empire, the republic before it and its fall?';
    assert.equal(analyzer(ask(long)).task, 'creative_writing');
    assert.equal(analyze(ask(long)).task, 'simple_qa');
  });

  it('creative_writing when nothing else applies', () => {
    const features = analyze(ask('Write a short story about a lighthouse keeper.'));
    assert.equal(features.task, 'creative_writing');
  });

  it('a rule task overrides everything, images included', () => {
    const features = analyze(conversation({ role: 'user', content: [{ type: 'text', text: 'hi' }, image] }), {
      rule: 'force-coding',
      task: 'coding',
    });
    assert.equal(features.task, 'coding');
    assert.equal(features.taskReason, 'rule force-coding');
    assert.equal(features.hasImages, true);
  });

  it('a rule without a task leaves the analysis alone', () => {
    assert.equal(analyze(ask('What is 2+2?'), { rule: 'r', models: ['x'] }).task, 'simple_qa');
  });
});

describe('analyze: coding detection', () => {
  const coding = (request: ChatRequest) => {
    const features = analyze(request);
    assert.equal(features.task, 'coding', `${JSON.stringify(request.messages)} -> ${features.taskReason}`);
    return features.taskReason;
  };
  const notCoding = (request: ChatRequest) => {
    const features = analyze(request);
    assert.notEqual(features.task, 'coding', `${JSON.stringify(request.messages)} -> ${features.taskReason}`);
    return features.task;
  };

  it('English keywords, even in a short question (the article checks code before simple_qa)', () => {
    assert.match(coding(ask('There is a bug in my login flow, can you help?')), /code keyword "bug"/);
    coding(ask('What does this function return?'));
    coding(ask('Why does the compiler complain here?'));
    coding(ask('Give me a regex for e-mail addresses'));
    coding(ask('Explain how to design a REST API rate limiter.'));
  });

  it('Chinese keywords', () => {
    assert.match(coding(ask('这段代码为什么跑不通？')), /代码/);
    coding(ask('这个函数的时间复杂度是多少'));
    coding(ask('程序一运行就报错'));
    coding(ask('讲讲快速排序算法'));
  });

  it("the brief's Redis pool request: write/implement + technical noun", () => {
    coding(ask('帮我写一个 Redis 连接池的实现,要求线程安全'));
  });

  it('a build imperative naming a technology, without any keyword', () => {
    assert.match(coding(ask('Implement an INI file parser in Rust.')), /build request/);
    assert.match(coding(ask('帮我用 Go语言 写一个爬虫')), /build request/);
    assert.match(coding(ask('请用 Python 写一个 Flask 服务')), /build request/);
  });

  it('a code fence', () => {
    assert.equal(coding(ask('Why is this slow?\n```\nfor x in xs: ys.append(x)\n```')), 'code fence');
  });

  it('stack traces from Python, JavaScript, Java and Go', () => {
    const traces = [
      'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n    main()',
      'TypeError: undefined is not a function\n    at foo (file.js:12:5)\n    at bar (file.js:20:3)',
      'Exception in thread "main" java.lang.IllegalStateException\n\tat com.acme.App.run(App.java:42)',
      'panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:',
      "thread 'main' panicked at src/main.rs:2:5",
      "ValueError: invalid literal for int() with base 10: 'x'",
      'Segmentation fault (core dumped)',
    ];
    for (const trace of traces) assert.equal(coding(ask(`我遇到这个了：\n${trace}`)), 'stack trace');
  });

  it('a stack frame whose only hint is a colon before a digit (no error word, no code punctuation)', () => {
    assert.equal(coding(ask('It stops here:\n    at /srv/app/index.js:88:13')), 'stack trace');
  });

  it('code syntax without a fence', () => {
    assert.equal(coding(ask('const total = items.reduce((a, b) => a + b, 0); 这样写对吗？')), 'code syntax');
    assert.equal(coding(ask('def parse(line):\n    return line.split(",")')), 'code syntax');
  });

  it('the system prompt counts: a coding persona makes coding', () => {
    const question = { role: 'user', content: '这个怎么优化？' } as const;
    assert.equal(notCoding(conversation(question)), 'simple_qa');
    assert.match(
      coding(conversation({ role: 'system', content: 'You are a senior Python engineer.' }, question)),
      /coding system prompt/,
    );
    coding(conversation({ role: 'developer', content: '你是一名资深后端开发工程师' }, question));
    coding(conversation({ role: 'system', content: 'Review every diff for bugs.' }, question));
  });

  it("the brief's list-comprehension question stays simple_qa (a how-question naming a language)", () => {
    assert.equal(notCoding(ask('Python 列表推导式怎么写?')), 'simple_qa');
    assert.equal(notCoding(ask('How do I write a list comprehension in Python?')), 'simple_qa');
  });

  it('everyday words are not coding', () => {
    assert.equal(notCoding(ask('如何实现财务自由？')), 'simple_qa');
    assert.equal(notCoding(ask('Can you go to the store for me?')), 'simple_qa');
    assert.equal(notCoding(ask('帮我写一封给房东的邮件，说明下个月退租。')), 'creative_writing');
    assert.equal(notCoding(ask('A classic film for tonight?')), 'simple_qa');
  });

  it('configured coding_keywords add to the built-in list', () => {
    const analyzer = createAnalyzer({
      ...analysisDefaults,
      coding_keywords: ['ansible playbook', '运维脚本'],
    });
    assert.equal(analyzer(ask('Review my Ansible playbook?')).task, 'coding');
    assert.equal(analyzer(ask('检查一下这个运维脚本')).task, 'coding');
    assert.equal(analyzer(ask('What is a bug?')).task, 'coding');
    assert.equal(analyze(ask('Review my Ansible playbook?')).task, 'simple_qa');
  });
});

describe('analyze: request signals', () => {
  it('tools and JSON output are capability needs, not a task change', () => {
    const tools = [
      { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' } } },
    ];
    const features = analyze(
      ask('What is the weather in Paris?', { tools, response_format: { type: 'json_object' } }),
    );
    assert.equal(features.task, 'simple_qa');
    assert.equal(features.hasTools, true);
    assert.equal(features.wantsJson, true);
    assert.equal(
      analyze(ask('hi', { response_format: { type: 'json_schema', json_schema: {} } })).wantsJson,
      true,
    );
    assert.equal(analyze(ask('hi', { response_format: { type: 'text' } })).wantsJson, false);
    assert.equal(analyze(ask('hi')).hasTools, false);
  });

  it('tool calls in the history need a tools-capable model too', () => {
    const features = analyze(
      conversation(
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: '1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: '1', content: 'sunny' },
      ),
    );
    assert.equal(features.hasTools, true);
  });

  it('tool definitions count toward prompt tokens', () => {
    const description = 'Looks up the current weather for a city and returns temperature and wind. '.repeat(
      10,
    );
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', description } }];
    assert.ok(analyze(ask('hi', { tools })).promptTokens > analyze(ask('hi')).promptTokens + 100);
  });

  it('prefill: the request ends with an assistant message', () => {
    assert.equal(analyze(conversation({ role: 'user', content: 'hi' })).hasPrefill, false);
    const prefill = conversation(
      { role: 'user', content: 'Say a JSON object' },
      { role: 'assistant', content: '{' },
    );
    assert.equal(analyze(prefill).hasPrefill, true);
  });

  it('maxOutputTokens: max_completion_tokens, else max_tokens, else undefined', () => {
    assert.equal(analyze(ask('hi', { max_tokens: 100 })).maxOutputTokens, 100);
    assert.equal(analyze(ask('hi', { max_tokens: 100, max_completion_tokens: 50 })).maxOutputTokens, 50);
    assert.equal(analyze(ask('hi', { max_tokens: null })).maxOutputTokens, undefined);
  });

  it('prompt tokens: all text (system included) + 4 per message + 3 reply priming + 85 per image', () => {
    const analyze = createAnalyzer({ ...analysisDefaults, token_count: 'exact' });
    const one = analyze(ask('hello world')).promptTokens;
    assert.equal(one, 2 + 4 + 3);
    const two = analyze(
      conversation({ role: 'system', content: 'hello world' }, { role: 'user', content: 'hello world' }),
    );
    assert.equal(two.promptTokens, 2 + 2 + 2 * 4 + 3);
    const withImage = analyze(
      conversation({ role: 'user', content: [{ type: 'text', text: 'hello world' }, image] }),
    );
    assert.equal(withImage.promptTokens, 2 + 4 + 3 + 85);
    assert.equal(withImage.tokensEstimated, false);
  });

  it('flags sampled counts on very long prompts', () => {
    const analyzer = createAnalyzer({ ...analysisDefaults, exact_count_chars: 1000 });
    assert.equal(analyzer(ask('word '.repeat(1000))).tokensEstimated, true);
  });

  it('ruleText is the last user message', () => {
    const request = conversation(
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: [{ type: 'text', text: 'second' }, image] },
    );
    assert.equal(ruleText(request), 'second');
    assert.equal(ruleText(conversation({ role: 'system', content: 'sys' })), '');
  });
});
