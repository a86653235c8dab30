#!/usr/bin/env node
// Generates the tokenizer golden data under tests/data/tokenizer/ with Hugging Face `tokenizers`
// (npm) over Qwen3's tokenizer.json from the setup cache:
//
//   node tools/tokenizer/make_goldens.js
//
// Writes:
//   qwen3_goldens.jsonl   one object per line: t (text), ids (encode), ns (encode with special
//                         tokens not recognized), and d / ds (decode of ids without / with
//                         skip_special_tokens) when they differ from t.
//   flags_added_tokens.json  an added_tokens list exercising lstrip/rstrip/single_word/normalized
//   flags_goldens.jsonl   t and ids for the tokenizer with that added_tokens list.
// The corpus is deterministic (seeded PRNG).
'use strict';
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '../..');
const tk = require(path.join(root, '.cache/npm/node_modules/tokenizers'));
const outDir = path.join(root, 'tests/data/tokenizer');
const baseJson = JSON.parse(
    fs.readFileSync(path.join(root, '.cache/qwen3-tokenizer/tokenizer.json'), 'utf8'));

function withAddedTokens(list) {
  const j = JSON.parse(JSON.stringify(baseJson));
  j.added_tokens = list;
  return tk.Tokenizer.fromString(JSON.stringify(j));
}

// ---- Deterministic PRNG (mulberry32) -----------------------------------------------------------
let seed = 0x5eed1234;
function rand() {
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (n) => Math.floor(rand() * n);
const pick = (arr) => arr[randInt(arr.length)];

// ---- Hand-written cases ------------------------------------------------------------------------
const cases = [
  '', ' ', '  ', '\n', '\r\n', '\t', 'Hello world', 'Hello, world!', ' Hello', 'hello   world',
  'trailing spaces   ', '   leading', 'a\n\nb', 'a \n b', 'a  \n\n  b', 'x\r\n\r\ny', '\t\tindent',
  'tabs\tand  spaces \t\n mixed', 'line1\nline2\r\nline3\rline4', '  \n  ', ' \n', '\n ', '!!!\n\n',
  ' !!\r\n', '...\n\nNext', 'end.\n', 'a\u00a0b', 'a\u3000b', 'a\u2028b', 'a\u0085b', 'a\u000bb',
  'a\u000cb', '\u00a0\u00a0x', 'x\u2003\u2003', ' \u00a0', '\u3000\u3000\u3000',
  "I'm", "I'M", "you're", "YOU'RE", "we've", "WE'VE", "he'll", "HE'LL", "she'd", "SHE'D",
  "it's", "IT'S", "don't", "DON'T", "'s'S'T't", "'ll'LL'Ll'lL", "'re're", "rock'n'roll",
  "''''", "'", "x'", "'x", "'1", "' s", "'\u017f", "'\u017fx", "O'Neil's", "l'été", "'ſt",
  '12345', '3.14159', '1,000,000', '123456789012345678901234567890', '-42', '0x1F', 'v1.2.3',
  '٣٤٥', '१२३', '①②③', 'Ⅻ', '½', '²³', '𝟘𝟙',
  'def foo(x):\n    return x + 1\n', 'int main() {\n  return 0;\n}\n', 'for (i = 0; i < n; ++i) {}',
  'const x = {"a": [1, 2, 3]};', '<div class="x">&nbsp;</div>', 'SELECT * FROM t WHERE a = 1;',
  '#include <vector>\n', 'std::vector<int> v{1,2};', '    if x:\n        pass', 'a->b->c', 'x:=1',
  '// comment\n/* block */', '$ ls -la | grep "x"', 'https://example.com/path?q=1&r=2#frag',
  'user@example.com', '<<<>>>', '===', '-->', '!==', '...', '—', '–', '…', '“quoted”', '«guillemets»',
  '你好，世界！', '我爱北京天安门', '中文 English 混合', '日本語のテキストです。', 'カタカナ ひらがな 漢字',
  'ｆｕｌｌｗｉｄｔｈ', '한국어 텍스트입니다', '안녕하세요', 'مرحبا بالعالم', 'اَلْعَرَبِيَّةُ', 'שָׁלוֹם',
  'नमस्ते दुनिया', 'क़ ख़ ग़', 'สวัสดีชาวโลก', 'ภาษาไทย', 'Привет, мир!', 'Ελληνικά', 'Tiếng Việt',
  'ქართული', 'Հայերեն', 'ሰላም', 'ᐊᐃᓐᓇ', '𐌰𐌱𐌲', '𓀀𓀁',
  '😀', '😀😃😄', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇺🇸🇯🇵', '🇺', '❤️', '✌🏿', '🧑🏻‍💻', '👩‍❤️‍💋‍👨',
  'e\u0301', 'cafe\u0301', 'café', 'A\u030a', 'o\u0308\u0304', 'a\u0323\u0302', 'a\u0302\u0323',
  'n\u0303', '\u1100\u1161\u11a8', '\u1100\u1161', '\uac00\u11a8', 'e\u0301\u0301', '\u0301',
  ' \u0301', 'x\u0345\u0334', 'Å', 'Ω', 'K', '\u2260', '=\u0338', '<\u0338', '>\u0338',
  '\u0958', 'क\u093c', '\ufb01', 'ﬁne', '\u1e9b\u0323', 'a\u07fd\u0301', 'a\u0301\u07fd',
  '\u105d2\u0307', 'e\u1abf\u0301', '\u0b47\u0b3e', '\u0dd9\u0dcf',
  '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<think>', '</think>', '<tool_call>',
  '</tool_call>', '<tool_response>', '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
  '<think>\nreasoning\n</think>\n\nanswer', '<|im_start|', '<|im_start', '<|im_start |>',
  '<think >', '< think>', '<THINK>', '<|im_start|><|im_start|>', '<|im_start|>|>', '<<|im_end|>',
  '<|im_end|>>', 'x<|endoftext|>y', ' <|im_start|> ', '  <think>  ', '\n<tool_call>\n{"a":1}\n</tool_call>',
  '<|vision_start|><|image_pad|><|vision_end|>', '<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>',
  '<|box_start|>', '<|quad_end|>', '<|object_ref_start|>', '<|repo_name|>', '<|file_sep|>',
  '<|endoftext', 'endoftext|>', '<|<|im_end|>|>', '<think><think>', 'é<|im_end|>\u0301',
  '<|im_end|>\u0338', '\ufffd', 'a\ufffdb', '\u0000', 'a\u0000b', '\u007f', '\u200b', '\u200d',
  '\ufeffBOM', '\ue000', '\uffff', '\u{10ffff}', '\u{e0041}', '\u{1d400}\u{1d401}',
];

// ---- Code and prose drawn from fixed files -----------------------------------------------------
const codeFiles = ['index.d.ts', 'index.js', 'README.md']
    .map((f) => path.join(root, '.cache/npm/node_modules/tokenizers', f))
    .filter((f) => fs.existsSync(f));
const codeChunks = [];
for (const f of codeFiles) {
  const lines = fs.readFileSync(f, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i += 1 + randInt(6)) {
    codeChunks.push(lines.slice(i, i + 1 + randInt(8)).join('\n'));
  }
}

// ---- Random strings ------------------------------------------------------------------------------
const alphabet = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~', ' ', ' ', ' ', ' ', '\t', '\n', '\n', '\r', '\r\n',
  '\u00a0', '\u3000', '\u2028', '\u0085', '\u000b', '\u000c', '\u2009', '\u200b', '\u200d',
  '\u0301', '\u0308', '\u0323', '\u0334', '\u0345', '\u0338', '\u0307', 'é', 'ñ', 'Å', 'ß', 'ſ',
  'ﬁ', 'Ω', 'K', '\u1100', '\u1161', '\u11a8', '가', '힣', '中', '文', '字', 'あ', 'ア', 'ｱ',
  'ا', 'ب', '\u064e', '\u0651', 'ש', '\u05bc', 'क', '\u093c', '\u094d', 'ि', 'ก', '\u0e34', '\u0e48',
  '😀', '👍', '\u{1f3fd}', '\u{1f1fa}', '\u{1f1f8}', '\ufe0f', '❤', '١', '٢', '१', '½', '²', 'Ⅻ',
  '\u07fd', '\u1abf', '\u{105d2}', '\u{11935}', '\ufffd', '\u0000', '\u{1d400}', '\u{10ffff}',
  "'s", "'S", "'ll", "'LL", "'ve", "'re", "'d", "'m", "'t", '<|im_start|>', '<|im_end|>',
  '<|endoftext|>', '<think>', '</think>', '<tool_call>', '<|', '|>', '<', '>',
];
function randomMixed() {
  const n = 1 + randInt(40);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(alphabet);
  return s;
}
function randomCodepoint() {
  for (;;) {
    const r = rand();
    let c;
    if (r < 0.3) c = 0x20 + randInt(0x60);
    else if (r < 0.6) c = randInt(0x3000);
    else if (r < 0.85) c = randInt(0x10000);
    else c = randInt(0x110000);
    if (c >= 0xd800 && c <= 0xdfff) continue;
    return String.fromCodePoint(c);
  }
}
function randomUnicode() {
  const n = 1 + randInt(24);
  let s = '';
  for (let i = 0; i < n; i++) s += rand() < 0.2 ? pick(alphabet) : randomCodepoint();
  return s;
}
function randomWhitespace() {
  const ws = [' ', '  ', '\t', '\n', '\r\n', '\r', '\u00a0', '\u3000', 'x', 'ab', '!', '1'];
  let s = '';
  const n = 1 + randInt(12);
  for (let i = 0; i < n; i++) s += pick(ws);
  return s;
}
function randomNumber() {
  let s = '';
  const n = 1 + randInt(40);
  for (let i = 0; i < n; i++) s += rand() < 0.9 ? String(randInt(10)) : pick([',', '.', ' ', '-']);
  return s;
}
function randomWords() {
  const words = ['the', 'The', 'THE', 'quick', 'brown', 'fox', "don't", "WON'T", 'naïve', 'café',
                 'über', 'Straße', '東京', 'ソウル', '서울', 'القاهرة', 'दिल्ली', 'กรุงเทพ', '🚀', 'x=1;'];
  const seps = [' ', '  ', ', ', '. ', '\n', '\t', '', '-', '_'];
  let s = '';
  const n = 1 + randInt(16);
  for (let i = 0; i < n; i++) s += pick(words) + pick(seps);
  return s;
}

const corpus = [...cases, ...codeChunks];
for (let i = 0; i < 2500; i++) corpus.push(randomMixed());
for (let i = 0; i < 1500; i++) corpus.push(randomUnicode());
for (let i = 0; i < 400; i++) corpus.push(randomWhitespace());
for (let i = 0; i < 300; i++) corpus.push(randomNumber());
for (let i = 0; i < 600; i++) corpus.push(randomWords());
// Precomposed / decomposed pairs.
for (const s of ['é', 'ñ', 'ü', 'Å', 'ệ', 'ǖ', '가', '각', 'ở', 'ḉ']) {
  corpus.push(s.normalize('NFD'), s.normalize('NFD') + ' ' + s, 'x' + s.normalize('NFD') + 'y');
}

// ---- Flags variant -------------------------------------------------------------------------------
const flagsAdded = JSON.parse(JSON.stringify(baseJson.added_tokens));
for (const t of flagsAdded) {
  if (t.content === '<think>') { t.lstrip = true; t.rstrip = true; }
  if (t.content === '</think>') t.rstrip = true;
  if (t.content === '<tool_call>') t.lstrip = true;
  if (t.content === '<|im_end|>') t.single_word = true;
}
let nextId = Math.max(...flagsAdded.map((t) => t.id)) + 1;
const extra = (content, o) => flagsAdded.push(Object.assign(
    {id: nextId++, content, single_word: false, lstrip: false, rstrip: false, normalized: false,
     special: false}, o));
extra('hello', {single_word: true});
extra('cafe\u0301', {normalized: true});
extra('ABC', {normalized: true, single_word: true});
extra('[MASK]', {special: true, lstrip: true, rstrip: true});
extra('é b', {special: false});
extra('日本', {special: true});
const flagsCases = [
  'hello', 'hello world', 'ahello', 'helloa', 'say hello!', '_hello', 'hello_', 'héllo', 'hello\u0301',
  'x hello y', '1hello', 'hello1', 'hellohello', ' hello ', '\u00a0hello\u00a0', 'hello\n',
  'café', 'cafe\u0301', 'un café noir', 'cafés', 'ABC', 'xABC', 'ABC ABC', ' ABC.', 'ABCD',
  'a <think> b', 'a   <think>   b', '<think>', '\n\n<think>\n\nx', 'x</think>   y', 'x   </think>',
  'a  <tool_call>', '<|im_end|>', 'a<|im_end|>', 'a <|im_end|> b', '<|im_end|>b', '(<|im_end|>)',
  '[MASK]', 'a [MASK] b', 'a   [MASK]   b', '[MASK][MASK]', ' [MASK]  [MASK] ', 'é b', 'xé by',
  '日本語', ' 日本 ', '<think> <think>', '  <think>  </think>  ', 'hello<think>hello',
];
for (let i = 0; i < 400; i++) {
  const parts = ['hello', 'cafe\u0301', 'café', 'ABC', '<think>', '</think>', '<tool_call>',
                 '<|im_end|>', '[MASK]', 'é b', '日本', ' ', '  ', '\n', 'x', '_', '1', '.', '\u00a0'];
  let s = '';
  const n = 1 + randInt(10);
  for (let j = 0; j < n; j++) s += pick(parts);
  flagsCases.push(s);
}

async function main() {
  const tok = withAddedTokens(baseJson.added_tokens);
  // The reference without special-token matching: special tokens keep their ids but get a text
  // that never occurs (removing them would renumber the tokens after them).
  const noSpecial = withAddedTokens(baseJson.added_tokens.map(
      (t) => t.special ? Object.assign({}, t, {content: t.content + '\u0000\u0001unmatchable'}) : t));
  const lines = [];
  const seen = new Set();
  for (const t of corpus) {
    if (seen.has(t)) continue;
    seen.add(t);
    const ids = (await tok.encode(t)).getIds();
    const ns = (await noSpecial.encode(t)).getIds();
    const rec = {t, ids};
    if (ns.join() !== ids.join()) rec.ns = ns;
    const d = await tok.decode(ids, false);
    const ds = await tok.decode(ids, true);
    if (d !== t) rec.d = d;
    if (ds !== d) rec.ds = ds;
    lines.push(JSON.stringify(rec));
  }
  fs.mkdirSync(outDir, {recursive: true});
  fs.writeFileSync(path.join(outDir, 'qwen3_goldens.jsonl'), lines.join('\n') + '\n');

  const flagsTok = withAddedTokens(flagsAdded);
  const flagLines = [];
  const flagSeen = new Set();
  for (const t of flagsCases) {
    if (flagSeen.has(t)) continue;
    flagSeen.add(t);
    const ids = (await flagsTok.encode(t)).getIds();
    flagLines.push(JSON.stringify({t, ids, d: await flagsTok.decode(ids, false),
                                   ds: await flagsTok.decode(ids, true)}));
  }
  fs.writeFileSync(path.join(outDir, 'flags_added_tokens.json'),
                   JSON.stringify(flagsAdded, null, 1) + '\n');
  fs.writeFileSync(path.join(outDir, 'flags_goldens.jsonl'), flagLines.join('\n') + '\n');
  console.log(`${lines.length} corpus strings, ${flagLines.length} flag cases`);
}
main().catch((e) => { console.error(e); process.exit(1); });
