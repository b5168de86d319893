/**
 * The key service as a started gateway uses it: its store, its fleet status, its models, and
 * the folder of the request log (the key database and secret sit beside it; in memory when the
 * request log is).
 */
import { dirname } from 'node:path';
import type { Gateway } from '../gateway/types.ts';
import { KeyService } from './service.ts';

/** Slots are leased for the request deadline plus this, so a crashed holder's slot comes back. */
const leaseMarginMs = 30_000;

export function keyFolderFor(requestLogPath: string): string | undefined {
  return requestLogPath === ':memory:' || requestLogPath === '' ? undefined : dirname(requestLogPath);
}

export function openKeyService(
  gateway: Pick<Gateway, 'config' | 'store' | 'logger' | 'stateStatus' | 'modelNames'>,
): Promise<KeyService> {
  const { config } = gateway;
  return KeyService.open({
    store: gateway.store,
    stateStatus: () => gateway.stateStatus(),
    keySecret: config.server.key_secret,
    folder: keyFolderFor(config.observability.request_log.path),
    modelNames: () => gateway.modelNames(), // asked each time: a config reload may add models
    leaseMs: config.resilience.request_deadline * 1000 + leaseMarginMs,
    logger: gateway.logger,
  });
}
