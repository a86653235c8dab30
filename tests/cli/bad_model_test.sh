#!/usr/bin/env bash
# Bad model directories: `moeserve generate` prints exactly one line on stderr and exits 2.
set -u
bin="$1"
src="$2/tests/data/golden/sharded"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

expect_one_line_exit2() {  # name dir [pattern]
  local name="$1" dir="$2" pattern="${3:-}"
  "$bin" generate --model "$dir" --prompt-ids 1,2,3 --max-tokens 2 --temperature 0 \
    >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && { [ -z "$pattern" ] || grep -q -- "$pattern" "$tmp/err"; }; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name: rc=$rc lines=$lines stderr: $(cat "$tmp/err")"
  fi
}

fresh() {  # copy of the sharded golden checkpoint
  rm -rf "$tmp/m"
  cp -r "$src" "$tmp/m"
  echo "$tmp/m"
}

expect_one_line_exit2 missing_dir "$tmp/does-not-exist" "config.json"
m=$(fresh); echo '{"model_type": "qwen3_moe", ' >"$m/config.json"
expect_one_line_exit2 bad_json "$m" "config.json"
m=$(fresh); python3 -c "
import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['num_key_value_heads']=5; json.dump(c,open(p,'w'))" "$m/config.json"
expect_one_line_exit2 bad_heads "$m" "num_key_value_heads"
m=$(fresh); rm "$m/model-00002-of-00003.safetensors"
expect_one_line_exit2 missing_shard "$m" "model-00002-of-00003.safetensors"
m=$(fresh); f="$m/model-00003-of-00003.safetensors"; truncate -s $(( $(stat -c %s "$f") - 100 )) "$f"
expect_one_line_exit2 truncated_shard "$m" "model-00003-of-00003.safetensors"
m=$(fresh); printf '\xff\xff\xff\xff\xff\xff\xff\x7f' | dd of="$m/model-00001-of-00003.safetensors" bs=1 conv=notrunc 2>/dev/null
expect_one_line_exit2 corrupt_header_length "$m" "model-00001-of-00003.safetensors"
m=$(fresh); python3 -c "
import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['hidden_size']=c['hidden_size']*2; json.dump(c,open(p,'w'))" "$m/config.json"
expect_one_line_exit2 shape_mismatch "$m" "expected"
m=$(fresh); python3 -c "
import json,sys; p=sys.argv[1]; c=json.load(open(p)); k=[n for n in c['weight_map'] if 'experts.3.up_proj' in n][0]; del c['weight_map'][k]; json.dump(c,open(p,'w'))" "$m/model.safetensors.index.json"
expect_one_line_exit2 missing_tensor "$m" "experts.3"
m=$(fresh)
"$bin" generate --model "$m" --prompt-ids 1,99999 --max-tokens 2 2>"$tmp/err" >/dev/null
[ $? -eq 2 ] && grep -q vocabulary "$tmp/err" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL bad_prompt_id"; }
"$bin" generate --model "$m" --prompt-ids 1,x --max-tokens 2 2>"$tmp/err" >/dev/null
[ $? -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL bad_ids_flag"; }
"$bin" generate --model "$m" --prompt-ids 1 --max-tokens 2 --bogus 2>"$tmp/err" >/dev/null
[ $? -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL unknown_flag"; }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
