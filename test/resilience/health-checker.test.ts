import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { normalizeConfig } from '../../src/config/load.ts';
import { createGateway } from '../../src/gateway/index.ts';
import { VirtualClock } from '../../src/resilience/clock.ts';

function gatewayOnVirtualTime() {
  const clock = new VirtualClock();
  const config = normalizeConfig(
    {
      models: {
        probed: {
          provider: 'simulated',
          health_check: { enabled: true, interval: 30 },
          circuit_breaker: { failure_threshold: 3, recovery_timeout: 600 },
          simulate: { ttft_ms: 100, ttft_sigma: 0, output_tokens: { min: 1, max: 1 } },
        },
      },
      observability: { log_level: 'silent', request_log: { enabled: false } },
    },
    {},
  );
  const gateway = createGateway({ config, clock, seed: 1, logger: pino({ level: 'silent' }) });
  return { clock, gateway };
}

describe('active health checks (virtual time)', () => {
  it('probe failures open the breaker; a successful probe closes it long before recovery_timeout', async () => {
    const { clock, gateway } = gatewayOnVirtualTime();
    gateway.startHealthChecks();
    const control = gateway.simulation('probed')!;
    control.takeDown('error');
    // Probes every 30 s while healthy, every 5 s once degraded.
    await clock.advance(30_000 + 1000);
    assert.equal(gateway.health.get('probed')?.breaker, 'closed', 'one failure is not enough');
    for (let i = 0; i < 30 && gateway.health.get('probed')?.breaker !== 'open'; i++)
      await clock.advance(1000);
    assert.equal(gateway.health.get('probed')?.breaker, 'open');
    const openedAt = clock.now();
    control.restore();
    for (let i = 0; i < 30 && gateway.health.get('probed')?.breaker !== 'closed'; i++)
      await clock.advance(1000);
    assert.equal(gateway.health.get('probed')?.breaker, 'closed');
    assert.ok(
      clock.now() - openedAt <= 10_000,
      `closed ${clock.now() - openedAt} ms after recovery, not after 600 s`,
    );
    await gateway.close();
  });

  it('no probes for simulated models unless asked', () => {
    const config = normalizeConfig(
      { models: { plain: { provider: 'simulated' }, real: { provider: 'openai' } } },
      {},
    );
    assert.equal(config.models.find((spec) => spec.name === 'plain')?.healthCheck.enabled, false);
    assert.equal(config.models.find((spec) => spec.name === 'real')?.healthCheck.enabled, true);
  });
});
