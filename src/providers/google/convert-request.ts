/**
 * OpenAI Chat Completions request -> Gemini `GenerateContentRequest` (REST, v1beta, camelCase).
 * Pure: no I/O, no clock. Throws an `UpstreamError` ('invalid_request') for input Gemini cannot
 * express, rather than silently dropping part of the conversation.
 */

import { UpstreamError } from '../../errors.ts';
import { unfetchableReason } from '../../lib/urls.ts';
import type { ChatMessage, ChatRequest, ContentPart, ToolChoice } from '../../types/openai.ts';

export interface GeminiPart {
  text?: string;
  /** Set on the model's own reasoning summaries; never shown to the client. */
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType: string; fileUri: string };
  functionCall?: { name: string; args?: Record<string, unknown>; id?: string };
  functionResponse?: { name: string; response: Record<string, unknown>; id?: string };
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

export interface GeminiGenerationConfig {
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
  candidateCount?: number;
  responseMimeType?: string;
  responseSchema?: unknown;
}

export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
  tools?: Array<{ functionDeclarations: GeminiFunctionDeclaration[] }>;
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
  generationConfig?: GeminiGenerationConfig;
}

export interface ConvertRequestOptions {
  /**
   * Gemini 3+ rejects replayed `functionCall` parts that lack a `thoughtSignature`. OpenAI clients
   * cannot carry the real one back, so we send Google's documented bypass value instead.
   */
  thoughtSignatureSentinel?: boolean;
}

/** Google's documented value for "no signature available" (see the thought-signatures guide). */
const SIGNATURE_SENTINEL = 'skip_thought_signature_validator';

/** Whether a Gemini model id needs the thought-signature sentinel (Gemini 3 and later). */
export function needsThoughtSignature(upstreamModel: string): boolean {
  const match = /gemini-(\d+)/i.exec(upstreamModel);
  return match !== null && Number(match[1]) >= 3;
}

export function toGeminiRequest(request: ChatRequest, options: ConvertRequestOptions = {}): GeminiRequest {
  const system: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  // functionResponse needs the function *name*; OpenAI tool messages only carry the call id.
  const callNames = new Map<string, string>();

  const push = (role: GeminiContent['role'], parts: GeminiPart[]) => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    // Gemini wants alternating turns; consecutive same-role messages become one turn.
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  for (const message of request.messages) {
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...textParts(message));
        break;
      case 'user':
        push('user', contentParts(message.content));
        break;
      case 'assistant': {
        // Assistant content is text (or refusal) only; the calls follow as functionCall parts.
        const parts = textParts(message);
        for (const call of message.tool_calls ?? []) {
          callNames.set(call.id, call.function.name);
          parts.push({
            functionCall: {
              name: call.function.name,
              args: parseArguments(call.function.arguments, call.id),
            },
            ...(options.thoughtSignatureSentinel ? { thoughtSignature: SIGNATURE_SENTINEL } : {}),
          });
        }
        push('model', parts);
        break;
      }
      case 'tool':
      case 'function': {
        const name = (message.tool_call_id && callNames.get(message.tool_call_id)) || message.name;
        if (!name) {
          throw invalid(
            `tool message for call ${message.tool_call_id ?? '(no id)'} has no matching assistant tool_call, so its function name is unknown`,
          );
        }
        push('user', [{ functionResponse: { name, response: toolResponse(message) } }]);
        break;
      }
      default:
        throw invalid(`message role '${String(message.role)}' is not supported by the google provider`);
    }
  }

  const body: GeminiRequest = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system };

  if (request.tools && request.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: request.tools.map((tool) => ({
          name: tool.function.name,
          ...(tool.function.description !== undefined ? { description: tool.function.description } : {}),
          ...(tool.function.parameters !== undefined ? { parameters: tool.function.parameters } : {}),
        })),
      },
    ];
    const config = toolConfig(request.tool_choice);
    if (config) body.toolConfig = { functionCallingConfig: config };
  }

  const generationConfig = toGenerationConfig(request);
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  return body;
}

function toolConfig(
  choice: ToolChoice | undefined,
): NonNullable<GeminiRequest['toolConfig']>['functionCallingConfig'] | undefined {
  if (choice === undefined) return undefined;
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'required') return { mode: 'ANY' };
  if (choice === 'none') return { mode: 'NONE' };
  // A named function: force a call, restricted to that one function.
  return { mode: 'ANY', allowedFunctionNames: [choice.function.name] };
}

function toGenerationConfig(request: ChatRequest): GeminiGenerationConfig {
  const config: GeminiGenerationConfig = {};
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (typeof maxTokens === 'number') config.maxOutputTokens = maxTokens;
  if (typeof request.temperature === 'number') config.temperature = request.temperature;
  if (typeof request.top_p === 'number') config.topP = request.top_p;
  if (typeof request.stop === 'string') config.stopSequences = [request.stop];
  else if (Array.isArray(request.stop) && request.stop.length > 0) config.stopSequences = request.stop;
  if (typeof request.n === 'number') config.candidateCount = request.n;
  const format = request.response_format;
  if (format?.type === 'json_object') {
    config.responseMimeType = 'application/json';
  } else if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    const schema = (format.json_schema as { schema?: unknown } | undefined)?.schema;
    if (schema !== undefined) config.responseSchema = schema;
  }
  return config;
}

/** Text-only content (system messages, tool results): every text part, in order. */
function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter(
      (part): part is { type: 'text'; text: string } => part.type === 'text' && typeof part.text === 'string',
    )
    .map((part) => part.text)
    .join('');
}

function textParts(message: ChatMessage): GeminiPart[] {
  const text = textOf(message.content);
  return text ? [{ text }] : [];
}

function contentParts(content: ChatMessage['content']): GeminiPart[] {
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  if (!Array.isArray(content)) return [];
  const parts: GeminiPart[] = [];
  for (const part of content) {
    const converted = contentPart(part);
    if (converted) parts.push(converted);
  }
  return parts;
}

function contentPart(part: ContentPart): GeminiPart | undefined {
  switch (part.type) {
    case 'text': {
      const text = (part as { text?: unknown }).text;
      // Gemini rejects empty text parts.
      return typeof text === 'string' && text !== '' ? { text } : undefined;
    }
    case 'image_url': {
      const url = (part as { image_url?: { url?: unknown } }).image_url?.url;
      if (typeof url !== 'string' || url === '') throw invalid('image_url part has no url');
      if (url.startsWith('data:')) return { inlineData: parseDataUrl(url, 'image/jpeg') };
      // Gemini fetches the URI itself: only public http(s) and gs:// (Cloud Storage) URIs go there.
      const refused = unfetchableReason(url, ['gs:']);
      if (refused) throw invalid(`image_url ${refused}`);
      return { fileData: { mimeType: guessMimeType(url), fileUri: url } };
    }
    case 'input_audio': {
      const audio = (part as { input_audio?: { data?: unknown; format?: unknown } }).input_audio;
      if (typeof audio?.data !== 'string') throw invalid('input_audio part has no data');
      return {
        inlineData: { mimeType: audio.format === 'mp3' ? 'audio/mp3' : 'audio/wav', data: audio.data },
      };
    }
    case 'file': {
      const data = (part as { file?: { file_data?: unknown } }).file?.file_data;
      if (typeof data !== 'string' || !data.startsWith('data:')) {
        throw invalid('file parts must carry file_data as a data: URL for the google provider');
      }
      return { inlineData: parseDataUrl(data, 'application/pdf') };
    }
    default:
      throw invalid(`content part type '${part.type}' is not supported by the google provider`);
  }
}

/** `data:<mime>[;base64],<payload>` -> inlineData; Gemini wants base64 either way. */
function parseDataUrl(url: string, defaultMime: string): { mimeType: string; data: string } {
  const comma = url.indexOf(',');
  if (comma === -1) throw invalid('malformed data: URL (no comma)');
  const meta = url.slice(5, comma).split(';');
  const mimeType = meta[0] || defaultMime;
  const payload = url.slice(comma + 1);
  if (meta.includes('base64')) return { mimeType, data: payload };
  try {
    return { mimeType, data: Buffer.from(decodeURIComponent(payload), 'utf8').toString('base64') };
  } catch {
    throw invalid('malformed data: URL (bad percent-encoding)');
  }
}

const mimeByExtension: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
};

/** fileData requires a mimeType; the URL's extension is the only hint we have. */
export function guessMimeType(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // Not an absolute URL: use it as given.
  }
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return (extension && mimeByExtension[extension]) || 'image/jpeg';
}

function parseArguments(text: string, callId: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(`tool_call ${callId} has arguments that are not valid JSON`);
  }
  if (!isRecord(parsed)) throw invalid(`tool_call ${callId} arguments must be a JSON object`);
  return parsed;
}

/** functionResponse.response must be a JSON object (a protobuf Struct). */
function toolResponse(message: ChatMessage): Record<string, unknown> {
  const text = textOf(message.content);
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) return parsed;
  } catch {
    // Plain text result: wrapped below.
  }
  return { content: text };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): UpstreamError {
  return new UpstreamError('invalid_request', message, { provider: 'google' });
}
