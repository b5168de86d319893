/** OpenAI error bodies: {"error": {"message", "type", "param", "code"}}. */
export function extractOpenAIError(body: unknown): {
  message?: string;
  code?: string;
  type?: string;
  param?: string | null;
} {
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return { message: error };
  if (!error || typeof error !== 'object') return {};
  const { message, code, type, param } = error as Record<string, unknown>;
  return {
    message: typeof message === 'string' ? message : undefined,
    code: typeof code === 'string' ? code : typeof code === 'number' ? String(code) : undefined,
    type: typeof type === 'string' ? type : undefined,
    param: typeof param === 'string' ? param : null,
  };
}
