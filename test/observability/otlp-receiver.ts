/**
 * An OTLP/HTTP trace receiver on loopback for the tracing tests: it accepts `POST /v1/traces` in
 * the OTLP JSON encoding (what @opentelemetry/exporter-trace-otlp-http sends), decodes every
 * export and keeps each span flattened with its resource's attributes and the request's headers.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  status: { code?: number; message?: string };
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
}
interface Export {
  headers: IncomingHttpHeaders;
  path: string;
  spans: ReceivedSpan[];
}

/** An OTLP/HTTP JSON value (`{stringValue}`, `{intValue}` as number or string, arrays...). */
function decodeValue(value: Record<string, any> | undefined): AttributeValue {
  if (!value) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map(decodeValue);
  return undefined;
}

function decodeAttributes(list: Array<{ key: string; value: Record<string, any> }> | undefined) {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) out[key] = decodeValue(value);
  return out;
}

/** A collector stand-in: POST /v1/traces, OTLP JSON, every span flattened with its resource. */
export async function startReceiver() {
  const exports: Export[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body: any;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      response.writeHead(400).end();
      return;
    }
    const spans: ReceivedSpan[] = [];
    for (const resourceSpans of body.resourceSpans ?? []) {
      const resource = decodeAttributes(resourceSpans.resource?.attributes);
      for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
        for (const span of scopeSpans.spans ?? []) {
          spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            kind: span.kind,
            status: span.status ?? {},
            attributes: decodeAttributes(span.attributes),
            resource,
          });
        }
      }
    }
    exports.push({ headers: request.headers, path: request.url ?? '', spans });
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    spans: () => exports.flatMap((entry) => entry.spans),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
