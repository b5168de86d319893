import api, { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { O200K_TOKEN_SPLIT_REGEX as R } from 'gpt-tokenizer/encodingParams/constants';
const s='What is a list comprehension in python? How do I write one that filters even numbers and squares them, and why is it faster than a loop? '.repeat(6);
const C = String.raw`'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])`;
const ASCII = new RegExp(String.raw`[^\r\nA-Za-z0-9]?[A-Z]*[a-z]+(?:${C})?|[^\r\nA-Za-z0-9]?[A-Z]+[a-z]*(?:${C})?|[0-9]{1,3}| ?[^\sA-Za-z0-9]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`, 'g');
const N=20000;
function t(name,f){for(let i=0;i<3000;i++)f();const st=process.hrtime.bigint();for(let i=0;i<N;i++)f();console.log(name,(Number(process.hrtime.bigint()-st)/N/1000).toFixed(2),'us');}
t('unicode regex', ()=>{let c=0; for (const m of s.matchAll(R)) c++; return c;});
t('ascii regex', ()=>{let c=0; for (const m of s.matchAll(ASCII)) c++; return c;});
t('ascii regex exec loop', ()=>{let c=0; ASCII.lastIndex=0; while (ASCII.exec(s)) c++; return c;});
const core = api.bytePairEncodingCoreProcessor;
console.log(Object.keys(core));
const fast = Object.create(core, { tokenSplitRegex: { value: ASCII } });
console.log(fast.countNative(s), countTokens(s));
t('library count', ()=>countTokens(s));
t('fast count', ()=>fast.countNative(s));
const enc = core.bytePairStringRankEncoder;
t('custom exec loop + map', ()=>{let c=0; ASCII.lastIndex=0; let m; while ((m=ASCII.exec(s))) { if (enc.get(m[0])!==undefined) c++; else c+=core.bytePairEncode(m[0]).length;} return c;});
t('isAscii check', ()=>/^[\x00-\x7f]*$/.test(s));
