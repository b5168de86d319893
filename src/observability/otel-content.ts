/**
 * Prompts and answers in the GenAI semantic conventions' message shape (`gen_ai.input.messages`,
 * `gen_ai.output.messages`: `{role, parts: [{type, ...}]}`), recorded only with `log_content`.
 * Inline images (data: URLs) are named, not copied: a trace is no place for megabytes of base64.
 */

type Part = Record<string, unknown> & { type: string };

interface GenAiMessage {
  role: string;
  parts: Part[];
  name?: string;
  finish_reason?: string;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Tool arguments are JSON text on the wire; the conventions want the object when it parses. */
function parsedArguments(text: unknown): unknown {
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function imagePart(part: Record<string, unknown>): Part {
  const image = record(part.image_url);
  const url =
    typeof image?.url === 'string' ? image.url : typeof part.image_url === 'string' ? part.image_url : '';
  const inline = /^data:([^;,]+)?[;,]/.exec(url);
  if (inline) return { type: 'image', mime_type: inline[1] ?? null, omitted_chars: url.length };
  return { type: 'uri', modality: 'image', uri: url };
}

function contentParts(content: unknown): Part[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', content }];
  if (!Array.isArray(content)) return [];
  const parts: Part[] = [];
  for (const item of content) {
    const part = record(item);
    if (!part) continue;
    if (part.type === 'text' && typeof part.text === 'string')
      parts.push({ type: 'text', content: part.text });
    else if (part.type === 'image_url') parts.push(imagePart(part));
    else parts.push({ type: typeof part.type === 'string' ? part.type : 'unknown' });
  }
  return parts;
}

/** Chat Completions messages as GenAI input messages (tool calls and results included). */
export function inputMessages(messages: unknown): GenAiMessage[] | undefined {
  if (!Array.isArray(messages)) return undefined;
  const out: GenAiMessage[] = [];
  for (const item of messages) {
    const message = record(item);
    if (!message) continue;
    const role = typeof message.role === 'string' ? message.role : 'user';
    const parts =
      role === 'tool'
        ? [{ type: 'tool_call_response', id: message.tool_call_id ?? null, response: message.content ?? '' }]
        : contentParts(message.content);
    if (Array.isArray(message.tool_calls)) {
      for (const entry of message.tool_calls) {
        const call = record(entry);
        const fn = record(call?.function);
        if (!call || !fn) continue;
        parts.push({
          type: 'tool_call',
          id: call.id ?? null,
          name: fn.name ?? '',
          arguments: parsedArguments(fn.arguments),
        });
      }
    }
    const converted: GenAiMessage = { role: role === 'developer' ? 'system' : role, parts };
    if (typeof message.name === 'string') converted.name = message.name;
    out.push(converted);
  }
  return out;
}

/** The answer as one GenAI output message (the gateway serves one choice). */
export function outputMessages(text: string, finishReason: string): GenAiMessage[] {
  return [
    {
      role: 'assistant',
      parts: text === '' ? [] : [{ type: 'text', content: text }],
      finish_reason: finishReason,
    },
  ];
}
