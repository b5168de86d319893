import { createAnalyzer } from './src/routing/analyze.ts';
import { decideRoute } from './src/routing/decide.ts';
import { seededRandom } from './src/routing/random.ts';
import { briefModels, healthOf, policyOf, analysisDefaults } from './test/routing/fixtures.ts';
const a = createAnalyzer(analysisDefaults);
const reqs = [
  { model: 'auto', messages: [{ role: 'user', content: 'Python 列表推导式怎么写?' }] },
  { model: 'auto', messages: [{ role: 'user', content: '帮我写一个 Redis 连接池的实现,要求线程安全' }] },
  { model: 'auto', messages: [{ role: 'user', content: [{type:'text', text:'描述这张图片'}, {type:'image_url', image_url:{url:'data:x'}}] }] },
  { model: 'auto', messages: [{ role: 'user', content: 'Write a short story about a lighthouse keeper.' }] },
];
for (const r of reqs) for (const p of ['cost','speed','quality','balanced'] as const) {
  const f = a(r as any);
  const d = decideRoute(f, briefModels(), healthOf(), policyOf({priority:p}), seededRandom(1));
  console.log(p, d.model, d.reason);
}
