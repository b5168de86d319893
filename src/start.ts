/** Wire a gateway, its HTTP server and its observability sinks, and listen. */
import { dirname, join } from 'node:path';
import type { GatewayConfig } from './config/load.ts';
import type { Gateway } from './gateway/index.ts';
import { registerKeyMetrics } from './keys/key-metrics.ts';
import type { KeyService } from './keys/service.ts';
import { openKeyService } from './keys/wiring.ts';
import { DashboardData, startOfLocalDay } from './observability/dashboard-data.ts';
import { FleetSpend } from './observability/fleet-spend.ts';
import { createLogSink } from './observability/log-sink.ts';
import type { GatewayLogger } from './observability/logger.ts';
import { createMetrics, type GatewayMetrics } from './observability/metrics.ts';
import { RequestLog } from './observability/request-log.ts';
import type { StatsCollector } from './observability/stats.ts';
import { adminRoutes } from './server/admin-routes.ts';
import { createConfigReloader, type ReloadResult, type ReloadTrigger } from './server/config-reload.ts';
import { configRoutes } from './server/config-routes.ts';
import { createDashboard } from './server/dashboard-routes.ts';
import { feedbackRoutes } from './server/feedback-routes.ts';
import { createGatewayServer, type RunningServer } from './server/http-server.ts';
import { keysRoutes } from './server/keys-routes.ts';
import { openLiveGateway } from './server/live-gateway.ts';
import { messagesErrorWriters, messagesRoutes } from './server/messages-routes.ts';
import { responsesRoutes } from './server/responses-routes.ts';
import { ResponseStore } from './state/response-store.ts';

export interface StartedGateway extends RunningServer {
  gateway: Gateway;
  metrics: GatewayMetrics;
  /** Undefined when `observability.request_log.enabled` is false. */
  requestLog: RequestLog | undefined;
  dashboard: DashboardData;
  /** Virtual keys: records, limits, budgets, usage (src/keys). */
  keys: KeyService;
  /** Re-read the config (`StartOptions.reloadConfig`) and swap it in; problems leave the running one. */
  reload(trigger?: ReloadTrigger): Promise<ReloadResult>;
}

export interface StartOptions {
  seed?: number;
  /** Logger to use instead of one built from `observability.log_level` (tests capture output). */
  logger?: GatewayLogger;
  /** How to read the config again for a reload (the CLI re-reads its file); absent: no reload. */
  reloadConfig?: () => GatewayConfig | Promise<GatewayConfig>;
}

export async function startServer(
  config: GatewayConfig,
  options: StartOptions = {},
): Promise<StartedGateway> {
  // Tracing (issue 16): the OpenTelemetry SDK is loaded only when `observability.otel` (or an
  // OTEL_EXPORTER_OTLP_* endpoint) is set; otherwise the gateway keeps its free no-op tracer.
  const tracer = config.observability.otel
    ? await openTracer(config, (error, suppressed) =>
        gateway.logger.warn(
          { err: error, suppressed },
          'OpenTelemetry: exporting spans failed (check observability.otel.endpoint)',
        ),
      )
    : undefined;
  // Config reload (issue 16): everything below holds the live facade; a reload swaps the gateway behind it.
  const live = await openLiveGateway({ config, seed: options.seed, logger: options.logger, tracer });
  const gateway = live.gateway;
  tracer?.watchBreakers((model) => gateway.health.model(model)?.breaker.phase);
  const { request_log: logConfig } = config.observability;
  const unsubscribe: Array<() => void> = [];
  let requestLog: RequestLog | undefined;
  let metrics: GatewayMetrics | undefined;
  let keys: KeyService | undefined;
  let responseStore: ResponseStore | undefined;
  try {
    const shared = gateway.stateStatus().shared;
    const fleet = shared
      ? new FleetSpend(
          gateway.store,
          () => gateway.config.models.map((spec) => spec.name), // config reload: read each time
          () => {},
        )
      : undefined;
    if (fleet) unsubscribe.push(gateway.events.subscribe(fleet));
    const fleetSpend = fleet ? () => fleet.totals() : undefined;
    metrics = createMetrics(gateway, { fleetSpend });
    // Virtual keys (src/keys): records, limits and budgets in the gateway's store; usage from its events.
    const openedKeys = await openKeyService(gateway);
    keys = openedKeys;
    unsubscribe.push(gateway.events.subscribe(openedKeys.usageSink));
    registerKeyMetrics(metrics.registry, () => openedKeys.refreshOverview());
    const keyRoutes = keysRoutes(openedKeys, {
      adminKeyConfigured: config.server.admin_key !== undefined || config.server.api_keys.length > 0,
      audit: gateway.logger,
    });
    if (logConfig.enabled) {
      requestLog = new RequestLog({
        path: logConfig.path,
        retentionDays: logConfig.retention_days,
        logContent: logConfig.log_content,
        onError: (error, context) => gateway.logger.error({ err: error }, context),
      });
      unsubscribe.push(gateway.events.subscribe(requestLog));
    }
    unsubscribe.push(gateway.events.subscribe(createLogSink(gateway.logger)));
    responseStore = new ResponseStore({
      path: config.responses.store_path ?? responseStorePath(logConfig.path),
      retentionDays: config.responses.store_retention_days,
      maxBytes: config.responses.store_max_bytes,
      onError: (error, context) => gateway.logger.error({ err: error }, context),
    });
    const dashboardData = new DashboardData({
      models: config.models.map((spec) => spec.name),
      spentToday: requestLog?.spendSince(startOfLocalDay()),
      keys: () => openedKeys.overviewNow(),
    });
    unsubscribe.push(gateway.events.subscribe(dashboardData));
    let stats: StatsCollector | undefined;
    const dashboard = createDashboard(
      dashboardData,
      () => ({ report: () => stats!.report(fleet?.latest()) }),
      { console: { gateway, requestLog } }, // the request console: its rows and model controls
    );
    const log = requestLog;
    // Config reload (issue 16): re-read, validate, swap; metrics then learn the models it added.
    const metricsToRefresh = metrics;
    const reloader = options.reloadConfig
      ? createConfigReloader({
          live,
          load: options.reloadConfig,
          logger: gateway.logger,
          onSwap: () => metricsToRefresh.refreshModels(),
        })
      : undefined;
    const server = createGatewayServer(gateway, {
      routes: {
        ...messagesRoutes(gateway),
        ...responsesRoutes(gateway, responseStore),
        ...feedbackRoutes(gateway, log),
        ...adminRoutes(gateway, metrics, log),
        ...dashboard.routes,
        ...keyRoutes,
        ...configRoutes(gateway, { reloader, audit: gateway.logger }), // config reload
      },
      errorWriters: messagesErrorWriters,
      fleetSpend,
      onDrained: () => fleet?.flush(), // the last summed spend, while the store is still open
      authenticator: openedKeys.authenticator,
    });
    stats = server.stats;
    const running = await server.listen(config.server.port, config.server.host);
    gateway.startHealthChecks(); // only models with health_check enabled are probed
    const ownMetrics = metrics;
    const responses = responseStore;
    let closing: Promise<void> | undefined;
    return {
      ...running,
      gateway,
      metrics: ownMetrics,
      requestLog: log,
      dashboard: dashboardData,
      keys: openedKeys,
      reload: (trigger = 'api') =>
        reloader?.reload(trigger) ??
        Promise.resolve({
          ok: false,
          problems: ['(config): started from a config object: nothing to re-read'],
        }),
      close() {
        closing ??= (async () => {
          dashboard.close(); // event streams would otherwise hold the drain open
          try {
            await running.close();
          } finally {
            log?.close(); // writes what the drained requests queued
            await tracer?.close(); // exports the drained requests' spans
            await openedKeys.close(); // the last usage tallies, then the key database
            responses.close();
            for (const stop of unsubscribe) stop();
            ownMetrics.close();
          }
        })();
        return closing;
      },
    };
  } catch (error) {
    requestLog?.close();
    await keys?.close();
    responseStore?.close();
    metrics?.close();
    for (const stop of unsubscribe) stop();
    await gateway.close();
    await tracer?.close();
    throw error;
  }
}

/** The OTLP tracer, imported on demand so that tracing off loads none of OpenTelemetry. */
async function openTracer(config: GatewayConfig, onExportError: (error: Error, suppressed: number) => void) {
  const { createOtelTracer } = await import('./observability/otel.ts');
  return createOtelTracer({ settings: config.observability.otel!, models: config.models, onExportError });
}

/** Stored responses sit beside the request log (in memory when it is). */
function responseStorePath(requestLogPath: string): string {
  if (requestLogPath === ':memory:' || requestLogPath === '') return ':memory:';
  return join(dirname(requestLogPath), 'responses.db');
}
