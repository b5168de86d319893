const words = 'the router sends each request to the model that fits its task budget and latency while'.split(' ');
let s=1; const r=()=>{s=(s*16807)%2147483647; return s/2147483647};
const pick=(l)=>l[Math.floor(r()*l.length)];
const en = Array.from({length:64},()=>Array.from({length:180},()=>pick(words)).join(' ') + ' (see) Is it ok?');
function t(name, res){ const f=(i)=>{const x=en[i%64]; for (const re of res) if (re.test(x)) return true; return false;}; for(let i=0;i<3000;i++) f(i); const N=20000; const st=process.hrtime.bigint(); for(let i=0;i<N;i++) f(i); console.log(name, (Number(process.hrtime.bigint()-st)/N/1000).toFixed(2),'us', f(0)); }
const stack = [
  /Traceback \(most recent call last\)/,
  /File "[^"\n]+", line \d+/,
  /at [\w$.<>[\]/\\-]+ ?\([^()\n]*:\d+(?::\d+)?\)/,
  /\n[ \t]+at \S+:\d+:\d+/,
  /Exception in thread "/,
  /panic: /,
  /goroutine \d+ \[/,
  /' panicked at/,
  /(?:Error|Exception): \S/,
  /Segmentation fault|core dumped/,
];
t('stack separate', stack);
t('stack combined', [new RegExp(stack.map(r=>r.source).join('|'))]);
const syntax = [
  /```|~~~/,
  /def(?<=^[ \t]*def) \w+ ?\(|class(?<=^[ \t]*class) \w+ ?[(:]/m,
  /function ?\w* ?\([^)\n]*\) ?\{/,
  /(?:const|let|var) \w+ ?=/,
  /#include ?[<"]/,
  /public (?:static )?(?:void|class|int|String)\b/,
  /import [\w{}*, ]+ from ['"]/,
  /import(?<=^[ \t]*(?:from [\w.]+ )?import) [\w.]+(?: as \w+)?[ \t]*$/m,
  /SELECT [\w*,.\s]+ FROM \w+/,
  /\)[ \t]*;[ \t]*(?:$|\/\/)/m,
  /===|!==/,
];
t('syntax separate', syntax);
t('syntax combined', [new RegExp(syntax.map(r=>r.source).join('|'), 'm')]);
for (const re of [...stack, ...syntax]) t(re.source.slice(0,40), [re]);
