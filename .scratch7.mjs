const words = 'the router sends each request to the model that fits its task budget and latency while'.split(' ');
let s=1; const r=()=>{s=(s*16807)%2147483647; return s/2147483647};
const pick=(l)=>l[Math.floor(r()*l.length)];
const en = Array.from({length:64},()=>Array.from({length:180},()=>pick(words)).join(' '));
const list = ['code','coding','function','functions','bug','bugs','debug','debugging','compile','compiler','compilation error','regex','regexp','regular expression','sql','api','apis','algorithm','source code','unit test','unit tests','refactor','stack trace','segfault','syntax error','null pointer','thread-safe','thread safe','race condition','deadlock','connection pool','data structure','recursion','python','javascript','typescript','java','golang','goroutine','go language','rust','c\\+\\+','c#','kotlin','php','scala','haskell','lua','node\\.?js','deno','react','vue','angular','svelte','next\\.js','django','flask','fastapi','spring boot','redis','mysql','postgresql','postgres','mongodb','sqlite','kafka','rabbitmq','elasticsearch','docker','dockerfile','kubernetes','k8s','nginx','linux','bash','powershell','git','html','css','json','yaml','graphql','grpc','rest','websocket','terraform','pandas','numpy','pytorch','tensorflow','class','method','parser','scraper','crawler','cli','command-line tool','library','endpoint','microservice','backend','frontend','middleware','sdk','web app','database','schema','cache','plugin','linked list','binary tree','hash map','write','implement','build','create','develop','fix','refactor','optimi[sz]e','rewrite','port','generate','design','engineer','developer','programmer','coder'];
function t(name, re){ const f=(i)=>{re.lastIndex=0; let c=0; while(re.exec(en[i%64])) c++; return c;}; for(let i=0;i<3000;i++) f(i); const N=20000; const st=process.hrtime.bigint(); for(let i=0;i<N;i++) f(i); console.log(name, (Number(process.hrtime.bigint()-st)/N/1000).toFixed(2),'us', f(0)); }
const alt = list.join('|');
t('b gi', new RegExp(`\\b(?:${alt})\\b`, 'gi'));
t('no b gi', new RegExp(`(?:${alt})`, 'gi'));
t('lower b g', new RegExp(`\\b(?:${alt})\\b`, 'g'));
t('lookahead gate', new RegExp(`\\b(?=[a-z])(?:${alt})\\b`, 'gi'));
t('word then check', new RegExp(`[a-z][a-z0-9+#.-]*`, 'gi'));
