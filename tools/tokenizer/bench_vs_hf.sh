#!/usr/bin/env bash
# Side-by-side encode speed: `moeserve tokenize` vs Hugging Face `tokenizers` (npm, Rust core),
# both single-threaded over the same corpus (one JSON string per line), and a check that the
# ids are identical.
#
#   tools/tokenizer/bench_vs_hf.sh [MOESERVE_BINARY] [TOKENIZER_DIR] [TARGET_MB]
#
# The corpus mixes the golden corpus and this repository's C++ sources, repeated to ~TARGET_MB
# (default 4). Prints whole-process times, encode-only times (ours: total minus the run on empty
# input, i.e. load + JSON I/O are excluded; HF: timed around the encode loop) and the ratios.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/bin/moeserve}
dir=${2:-$root/.cache/qwen3-tokenizer}
target_mb=${3:-4}
tokenizers=$root/.cache/npm/node_modules/tokenizers
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

node - "$root" "$work/corpus.jsonl" "$target_mb" <<'JS'
const fs = require('fs');
const [root, out, mb] = process.argv.slice(2);
const texts = fs.readFileSync(root + '/tests/data/tokenizer/qwen3_goldens.jsonl', 'utf8')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l).t);
const walk = (d) => fs.readdirSync(d, {withFileTypes: true}).flatMap((e) =>
    e.isDirectory() ? walk(d + '/' + e.name) : /\.(cc|h)$/.test(e.name) ? [d + '/' + e.name] : []);
for (const sub of ['router', 'common', 'cli']) {
  if (!fs.existsSync(root + '/' + sub)) continue;
  for (const f of walk(root + '/' + sub)) {
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i += 20) texts.push(lines.slice(i, i + 20).join('\n'));
  }
}
const lines = [];
let size = 0, i = 0;
while (size < mb * 1e6) {
  const t = texts[i++ % texts.length];
  lines.push(JSON.stringify(t));
  size += Buffer.byteLength(t);
}
fs.writeFileSync(out, lines.join('\n') + '\n');
console.log(`corpus: ${lines.length} lines, ${(size / 1e6).toFixed(2)} MB of text`);
JS

cat > "$work/hf.js" <<'JS'
const fs = require('fs');
const {Tokenizer} = require(process.argv[2]);
const tok = Tokenizer.fromFile(process.argv[3] + '/tokenizer.json');
const lines = fs.readFileSync(process.argv[4], 'utf8').split('\n').filter(Boolean).map(JSON.parse);
(async () => {
  const out = [];
  const t0 = process.hrtime.bigint();
  for (const line of lines) out.push((await tok.encode(line)).getIds());  // One at a time.
  const t1 = process.hrtime.bigint();
  fs.writeFileSync(process.argv[5], out.map((ids) => '[' + ids.join(',') + ']').join('\n') + '\n');
  console.error(`hf_encode_s ${Number(t1 - t0) / 1e9}`);
})();
JS

now() { date +%s.%N; }
t0=$(now); "$bin" tokenize --tokenizer "$dir" </dev/null >/dev/null; t1=$(now)
"$bin" tokenize --tokenizer "$dir" <"$work/corpus.jsonl" >"$work/ours.txt"; t2=$(now)
TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 UV_THREADPOOL_SIZE=1 \
  node "$work/hf.js" "$tokenizers" "$dir" "$work/corpus.jsonl" "$work/hf.txt" 2>"$work/hf.err"
t3=$(now)
if cmp -s "$work/ours.txt" "$work/hf.txt"; then same=identical; else same=DIFFERENT; fi
hf_encode=$(awk '/hf_encode_s/ {print $2}' "$work/hf.err")
awk -v load="$(echo "$t1 - $t0" | bc)" -v ours="$(echo "$t2 - $t1" | bc)" \
    -v hf="$(echo "$t3 - $t2" | bc)" -v hfenc="$hf_encode" -v same="$same" \
    -v mb="$(stat -c %s "$work/corpus.jsonl")" 'BEGIN {
  enc = ours - load; if (enc <= 0) enc = 1e-9;
  printf "ids: %s\n", same;
  printf "whole process:  moeserve %.3f s   hf (node) %.3f s   ratio %.1fx\n", ours, hf, hf / ours;
  printf "encode only:    moeserve %.3f s   hf        %.3f s   ratio %.1fx\n", enc, hfenc, hfenc / enc;
  printf "moeserve load (empty input) %.3f s; encode throughput %.1f MB/s (JSONL input)\n",
         load, mb / 1e6 / enc;
}'
[[ $same == identical ]]
