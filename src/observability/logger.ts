import { pino } from 'pino';

export type GatewayLogger = pino.Logger;

/**
 * Structured JSON logs. Anything that could carry a secret is redacted by path, as a second
 * line of defence: the code never puts keys in log objects in the first place.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): GatewayLogger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['api_key', 'apiKey', '*.api_key', '*.apiKey', 'headers.authorization', 'headers["x-api-key"]', 'headers["x-goog-api-key"]'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
