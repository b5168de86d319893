/**
 * The OpenAI Responses API wire format (POST /v1/responses), the part of it this front door
 * accepts and answers. Field names and shapes follow the official `openai` client's types.
 */

export interface InputTextPart {
  type: 'input_text';
  text: string;
}

export interface InputImagePart {
  type: 'input_image';
  image_url?: string | null;
  detail?: 'low' | 'high' | 'auto' | 'original' | null;
}

export interface InputFilePart {
  type: 'input_file';
  file_data?: string | null;
  filename?: string | null;
}

export interface OutputTextPart {
  type: 'output_text';
  text: string;
  annotations?: unknown[];
  logprobs?: unknown[];
}

export interface RefusalPart {
  type: 'refusal';
  refusal: string;
}

export type InputContentPart = InputTextPart | InputImagePart | InputFilePart;

export interface MessageItem {
  type?: 'message';
  id?: string;
  role: 'user' | 'assistant' | 'system' | 'developer';
  content: string | Array<InputContentPart | OutputTextPart | RefusalPart>;
  status?: string;
}

export interface FunctionCallItem {
  type: 'function_call';
  id?: string;
  call_id: string;
  name: string;
  arguments: string;
  status?: string;
}

export interface FunctionCallOutputItem {
  type: 'function_call_output';
  id?: string | null;
  call_id: string;
  output: string | InputContentPart[];
  status?: string | null;
}

/** Reasoning items a client sends back (encrypted model state); accepted and not forwarded. */
export interface ReasoningItem {
  type: 'reasoning';
  id?: string;
  summary?: unknown[];
  encrypted_content?: string | null;
}

export type InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem;

export interface FunctionTool {
  type: 'function';
  name: string;
  description?: string | null;
  parameters?: Record<string, unknown> | null;
  strict?: boolean | null;
}

export type ResponsesToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | { type: 'function'; name: string }
  | { type: 'allowed_tools'; mode: 'auto' | 'required'; tools: Array<{ type: 'function'; name: string }> };

export type TextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      name: string;
      schema: Record<string, unknown>;
      description?: string;
      strict?: boolean | null;
    };

export interface ResponsesRequest {
  model: string;
  input?: string | InputItem[];
  instructions?: string | null;
  tools?: FunctionTool[];
  tool_choice?: ResponsesToolChoice;
  text?: { format?: TextFormat; verbosity?: 'low' | 'medium' | 'high' | null };
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  stream?: boolean | null;
  previous_response_id?: string | null;
  parallel_tool_calls?: boolean | null;
  user?: string;
  safety_identifier?: string | null;
  reasoning?: { effort?: string | null; summary?: string | null } | null;
  include?: string[] | null;
  truncation?: 'auto' | 'disabled' | null;
  service_tier?: string | null;
  prompt_cache_key?: string | null;
  prompt_cache_retention?: string | null;
  [key: string]: unknown;
}

export interface OutputMessage {
  id: string;
  type: 'message';
  status: 'in_progress' | 'completed' | 'incomplete';
  role: 'assistant';
  content: Array<
    { type: 'output_text'; text: string; annotations: unknown[]; logprobs: unknown[] } | RefusalPart
  >;
}

export interface OutputFunctionCall {
  id: string;
  type: 'function_call';
  status: 'in_progress' | 'completed' | 'incomplete';
  arguments: string;
  call_id: string;
  name: string;
}

export type OutputItem = OutputMessage | OutputFunctionCall;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = 'completed' | 'failed' | 'in_progress' | 'incomplete';

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  background: boolean;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  metadata: Record<string, string>;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: string | null };
  store: boolean;
  temperature: number | null;
  text: { format: TextFormat; verbosity?: string | null };
  tool_choice: ResponsesToolChoice;
  tools: FunctionTool[];
  top_p: number | null;
  truncation: 'auto' | 'disabled';
  usage: ResponseUsage | null;
  user: string | null;
  service_tier?: string | null;
}

/**
 * What to keep of an answered request so a later one can continue it with
 * `previous_response_id`: the whole input it was answered on (its own previous chain included)
 * and its output items.
 */
export interface StoredResponse {
  id: string;
  input: InputItem[];
  output: OutputItem[];
}
