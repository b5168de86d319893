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
        paths: [
          'api_key',
          'apiKey',
          '*.api_key',
          '*.apiKey',
          'headers.authorization',
          'headers["x-api-key"]',
          'headers["x-goog-api-key"]',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/**
 * A logger on the same destination and level without path redaction, for lines built only
 * from known-safe fields (the per-request access line). pino's wildcard redaction walks every
 * logged object and would triple the cost of a line written for every request.
 */
export function unredactedSibling(logger: GatewayLogger): GatewayLogger {
  const stream = (logger as unknown as Record<symbol, pino.DestinationStream | undefined>)[
    pino.symbols.streamSym
  ];
  return pino({ level: logger.level, base: undefined }, stream);
}
