#!/usr/bin/env bash
# End-to-end check of `moeserve tokenize` / `moeserve detokenize`: round trip, exit codes.
# Usage: tokenize_cli_test.sh MOESERVE_BINARY TOKENIZER_DIR   (exit 77 = skipped)
set -u
bin=$1 dir=$2
[[ -f $dir/tokenizer.json ]] || { echo "no $dir/tokenizer.json (run scripts/setup)"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

out=$(printf '"Hello world"\n"<|im_start|>user\\n\xe4\xbd\xa0\xe5\xa5\xbd<|im_end|>"\n""\n' |
      "$bin" tokenize --tokenizer "$dir") || fail "tokenize exit $?"
[[ $(echo "$out" | wc -l) == 3 ]] || fail "tokenize line count: $out"
[[ $(echo "$out" | head -1) == "[9707,1879]" ]] || fail "tokenize ids: $out"
[[ $(echo "$out" | tail -1) == "[]" ]] || fail "empty string: $out"
back=$(echo "$out" | "$bin" detokenize --tokenizer "$dir") || fail "detokenize exit $?"
want=$'"Hello world"\n"<|im_start|>user\\n\xe4\xbd\xa0\xe5\xa5\xbd<|im_end|>"\n""'
[[ $back == "$want" ]] || fail "round trip: $back"
skipped=$(echo "$out" | sed -n 2p | "$bin" detokenize --skip-special --tokenizer="$dir")
[[ $skipped == $'"user\\n\xe4\xbd\xa0\xe5\xa5\xbd"' ]] || fail "skip special: $skipped"
nospecial=$(echo '"<|im_end|>"' | "$bin" tokenize --no-special --tokenizer "$dir")
[[ $nospecial != "[151645]" && $nospecial == \[*,*\] ]] || fail "--no-special: $nospecial"

expect_2() {  # expect_2 INPUT ARGS...: exit 2 with exactly one line on stderr
  local input=$1; shift
  local err rc
  err=$(printf '%s' "$input" | "$bin" "$@" 2>&1 >/dev/null); rc=$?
  [[ $rc == 2 ]] || fail "exit $rc for $* <<< $input"
  [[ $(printf '%s\n' "$err" | wc -l) == 1 && -n $err ]] || fail "stderr for $*: $err"
}
expect_2 '"x"' tokenize
expect_2 '"x"' tokenize --tokenizer /nonexistent
expect_2 '"x"' tokenize --tokenizer "$dir" --bogus
expect_2 'not json' tokenize --tokenizer "$dir"
expect_2 '[1,2]' tokenize --tokenizer "$dir"
expect_2 '"x' tokenize --tokenizer "$dir"
expect_2 '[1,"a"]' detokenize --tokenizer "$dir"
expect_2 '[1,999999]' detokenize --tokenizer "$dir"
expect_2 '[-1]' detokenize --tokenizer "$dir"
expect_2 '"text"' detokenize --tokenizer "$dir"
expect_2 '[1]' detokenize
echo PASS
