import * as mod from './src/routing/analyze.ts';
const words = 'the router sends each request to the model that fits its task budget and latency while'.split(' ');
let s=1; const r=()=>{s=(s*16807)%2147483647; return s/2147483647};
const pick=(l)=>l[Math.floor(r()*l.length)];
const en = Array.from({length:64},()=>Array.from({length:180},()=>pick(words)).join(' '));
const m = (mod as any).__matchers();
function t(name, f, n=20000){ for(let i=0;i<2000;i++) f(i); const st=process.hrtime.bigint(); for(let i=0;i<n;i++) f(i); console.log(name, (Number(process.hrtime.bigint()-st)/n/1000).toFixed(2),'us'); }
for (const [k, re] of Object.entries(m)) t(k, i => (re as RegExp).test(en[i%64]));
