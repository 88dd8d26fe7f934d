#!/usr/bin/env bash
# Seeds for fuzz_tokenizer: texts (mode byte 1) and tokenizer.json files
# (mode byte 0), from the golden test strings and the shared tokenizers.
set -euo pipefail
out="$1"
src="${ATTRIB_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}"
i=0
for t in "Hello world" "  leading and trailing  " "I'm 12345 here." "<s>Hello</s>" "<|x|>ab ab" \
         "caf$(printf '\xc3\xa9') $(printf '\xe4\xbd\xa0\xe5\xa5\xbd')" "$(printf 'a\xff\xfeb\xed\xa0\x80')" \
         "$(printf 'e\xcc\x81 \xef\xac\x81')" "$(printf 'line\r\n\ttab')"; do
  printf '\001%s' "$t" > "$out/text-$i"; i=$((i+1))
done
printf '\000%s' "$(head -c 2000 "$src/tests/golden/stories260K.json" 2>/dev/null || true)" > "$out/json-trunc"
printf '\000{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}' > "$out/json-min"
if [ -n "${ATTRIB_SHARED:-}" ] && [ -f "$ATTRIB_SHARED/models/TinyStories-656K/tokenizer.json" ]; then
  { printf '\000'; cat "$ATTRIB_SHARED/models/TinyStories-656K/tokenizer.json"; } > "$out/json-tinystories"
fi
