const words = 'the router sends each request to the model that fits its task budget and latency while'.split(' ');
let s=1; const r=()=>{s=(s*16807)%2147483647; return s/2147483647};
const pick=(l)=>l[Math.floor(r()*l.length)];
const en = Array.from({length:64},()=>Array.from({length:180},()=>pick(words)).join(' ') + ' (see) Is it ok? a = b.');
function t(name, res){ const f=(i)=>{const x=en[i%64]; for (const re of res) if (re.test(x)) return true; return false;}; for(let i=0;i<3000;i++) f(i); const N=20000; const st=process.hrtime.bigint(); for(let i=0;i<N;i++) f(i); console.log(name, (Number(process.hrtime.bigint()-st)/N/1000).toFixed(2),'us', f(0)); }
const list = [
  /\.(?:[cm]?[jt]sx?|java|kt|py|go|rs|rb|php|cs|swift|scala|c|cc|cpp|h):\d+/,
  /Error: \S/, /Exception: \S/, /Segmentation fault/, /core dumped/,
  /(?:^|\n)[ \t]*(?:def|class) \w+ ?[(:]/,
  /(?<=\b(?:const|let|var) \w+ ?)=/,
  /\);[ \t]*(?:\n|$)/,
  /[=!]==/, /```/, /~~~/,
  /[`~]{3}/,
];
for (const re of list) t(re.source.slice(0,40), [re]);
