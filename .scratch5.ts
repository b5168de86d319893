import { DEFAULT_CODING_KEYWORDS } from './src/routing/analyze.ts';
const words = 'the router sends each request to the model that fits its task budget and latency while'.split(' ');
let s=1; const r=()=>{s=(s*16807)%2147483647; return s/2147483647};
const pick=(l)=>l[Math.floor(r()*l.length)];
const en = Array.from({length:64},()=>Array.from({length:180},()=>pick(words)).join(' '));
const enLower = en.map(x=>x.toLowerCase());
function t(name, f, n=20000){ for(let i=0;i<2000;i++) f(i); const st=process.hrtime.bigint(); for(let i=0;i<n;i++) f(i); console.log(name, (Number(process.hrtime.bigint()-st)/n/1000).toFixed(2),'us'); }
const esc = (x)=>x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const latin = DEFAULT_CODING_KEYWORDS.filter(k=>/^[\x20-\x7e]+$/.test(k)).map(k=>k.toLowerCase());
function trie(words: string[]): string {
  const root: any = {};
  for (const w of words) { let n = root; for (const ch of w) n = n[ch] ??= {}; n[''] = true; }
  const build = (n: any): string => {
    const keys = Object.keys(n).filter(k => k !== '');
    const alts = keys.map(k => esc(k) + build(n[k]));
    if (alts.length === 0) return '';
    const body = alts.length === 1 ? alts[0] : `(?:${alts.join('|')})`;
    return n[''] ? `(?:${body})?` : body;
  };
  return build(root);
}
const src = trie(latin);
console.log(src.slice(0,200));
const T1 = new RegExp(`\\b${src}\\b`);
const T2 = new RegExp(`(?<![a-z0-9_])${src}(?![a-z0-9_])`);
const T3 = new RegExp(`\\b${src}\\b`, 'i');
const T4 = new RegExp(`(?<![A-Za-z0-9_])${src}(?![A-Za-z0-9_])`, 'i');
t('trie \\b lower', i=>T1.test(enLower[i%64]));
t('trie lookaround lower', i=>T2.test(enLower[i%64]));
t('trie \\b i', i=>T3.test(en[i%64]));
t('trie lookaround i', i=>T4.test(en[i%64]));
console.log(T1.exec('fix the thread-safe bug'), T4.exec('Fix the Thread Safe issue'));
