import { decideRoute } from './src/routing/decide.ts';
import { seededRandom } from './src/routing/random.ts';
import { briefModels, healthOf, policyOf } from './test/routing/fixtures.ts';
const models = briefModels().map((spec) => ({ ...spec, strengths: ['creative_writing', 'complex_reasoning'] as any }));
const d = decideRoute({task:'creative_writing',taskReason:'x',promptTokens:100,tokensEstimated:false,maxOutputTokens:undefined,hasImages:false,hasTools:false,wantsJson:false,hasPrefill:false}, models, healthOf({'gpt-4o':{latencyMs:900}}), policyOf({priority:'quality', nearTop:0}), seededRandom(1));
console.log(d);
