import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReport } from '../../src/simulator/report.ts';
import { baselinePolicy, runSimulation, switchyardPolicy, wilsonLower } from '../../src/simulator/run.ts';
import { builtInScenarios, loadScenario } from '../../src/simulator/scenario.ts';
import { mmluMissing } from '../helpers/mmlu-data.ts';

describe('simulator', () => {
  it('loads every shipped scenario', () => {
    // seed-table reads the MMLU data, which is not part of this repository.
    const names = builtInScenarios.filter((name) => name !== 'seed-table' || !mmluMissing);
    for (const name of names) assert.equal(loadScenario(name).name, name);
  });

  it('is deterministic for a seed, and the seed matters', async () => {
    const scenario = { ...loadScenario('steady'), duration: 60 };
    const first = await runSimulation(scenario, switchyardPolicy(scenario), { seed: 7 });
    const again = await runSimulation(scenario, switchyardPolicy(scenario), { seed: 7 });
    const other = await runSimulation(scenario, switchyardPolicy(scenario), { seed: 8 });
    const strip = ({ wallMs: _wall, ...rest }: typeof first) => rest;
    assert.deepEqual(strip(first), strip(again));
    assert.notDeepEqual(strip(first), strip(other));
  });

  it('an outage: the baseline fails during it, Switchyard fails over and its breaker opens', async () => {
    const scenario = loadScenario('outage');
    scenario.duration = 240;
    scenario.models['gpt-4o'] = { simulate: { outages: [{ start: 60, duration: 60, mode: 'error' }] } };
    const baseline = await runSimulation(scenario, baselinePolicy(scenario));
    const switchyard = await runSimulation(scenario, switchyardPolicy(scenario));
    assert.ok(baseline.requests > 1000);
    assert.ok(baseline.availability < 0.9, `baseline availability ${baseline.availability}`);
    assert.equal(baseline.attemptsPerRequest, 1);
    assert.ok(switchyard.availability > 0.995, `switchyard availability ${switchyard.availability}`);
    assert.ok(switchyard.attemptsPerRequest < 1.3);
    assert.ok(switchyard.outage?.breakerOpenAfterS !== undefined && switchyard.outage.breakerOpenAfterS < 10);
    assert.ok(switchyard.outage?.trafficBackAfterS !== undefined && switchyard.outage.trafficBackAfterS < 30);
    assert.ok(
      baseline.outage && baseline.outage.clientRecoveryS >= 50,
      'baseline clients see the whole outage',
    );
    const table = formatReport(scenario, [baseline, switchyard], scenario.seed);
    assert.match(table, /mean response time/);
    assert.match(table, /seed 42/);
  });

  it('Wilson lower bound', () => {
    assert.equal(wilsonLower(0, 0), 0);
    const bound = wilsonLower(9990, 10000);
    assert.ok(bound > 0.998 && bound < 0.999, String(bound));
  });
});
