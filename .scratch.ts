import { countTokens } from './src/routing/tokenizer.ts';
import { createAnalyzer } from './src/routing/analyze.ts';
const words = 'the router sends each request to the model that fits its task budget and latency while'.split(' ');
const chinese = '路由层根据任务类型成本和延迟为每个请求选择最合适的模型并在失败时切换到备用模型'.split('');
let s=1; const r=()=>{s=(s*16807)%2147483647; return s/2147483647};
const pick=(l)=>l[Math.floor(r()*l.length)];
const en = Array.from({length:64},()=>Array.from({length:180},()=>pick(words)).join(' '));
const zh = Array.from({length:64},()=>Array.from({length:200},()=>pick(chinese)).join(''));
const zhReal = '在软件工程中，连接池是一种常用的技术，用于管理数据库连接的复用，提高系统性能并降低资源消耗。'.repeat(4);
function t(name, f, n=20000){ for(let i=0;i<2000;i++) f(i); const st=process.hrtime.bigint(); for(let i=0;i<n;i++) f(i); console.log(name, (Number(process.hrtime.bigint()-st)/n/1000).toFixed(1),'us'); }
t('en tokens '+countTokens(en[0],{exactChars:1e9}).tokens+' chars '+en[0].length, i=>countTokens(en[i%64],{exactChars:1e9}));
t('zh random tokens '+countTokens(zh[0],{exactChars:1e9}).tokens+' chars '+zh[0].length, i=>countTokens(zh[i%64],{exactChars:1e9}));
t('zh real tokens '+countTokens(zhReal,{exactChars:1e9}).tokens+' chars '+zhReal.length, i=>countTokens(zhReal,{exactChars:1e9}));
const a = createAnalyzer({long_context_tokens:8000, simple_qa_max_tokens:500, exact_count_chars:24000});
t('analyze en', i=>a({model:'auto',messages:[{role:'user',content:en[i%64]}]}));
t('analyze zh', i=>a({model:'auto',messages:[{role:'user',content:zh[i%64]}]}));
