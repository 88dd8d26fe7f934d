#!/usr/bin/env bash
# seeds/dataset.sh CORPUS_DIR — seed inputs for fuzz_dataset (run by run-fuzz.sh).
#
# fuzz_dataset reads one input as <option byte><file bytes> (see
# fuzz/fuzz_dataset.c; the byte's low two bits pick the option set). Seeds:
# the head of each shared dataset file (XSTest, JailbreakBench and its
# benign twin as CSV; the refusal-direction splits as a JSON array and as
# JSONL), each under the option sets that fit it, then small hand-written
# files for the rules the shared files do not exercise (BOM, CRLF, quotes
# with "" and newlines, ragged rows, invalid UTF-8, labels of every JSON
# type). Seeds are rewritten on every run; files libFuzzer added are kept.
set -euo pipefail
corpus="$1"
shared="${ATTRIB_SHARED:?ATTRIB_SHARED must name the shared assets directory}"
py=/usr/bin/python3
mkdir -p "$corpus"

seed() {  # seed NAME MODE < content
  { printf "\\$(printf '%03o' "$2")"; cat; } > "$corpus/seed-$1"
}

for f in xstest/xstest_prompts.csv jbb/jailbreakbench.csv jbb/benign-behaviors.csv; do
  if [ -r "$shared/data/$f" ]; then
    name="$(basename "$f" .csv)"
    for mode in 0 1 2; do head -n 24 "$shared/data/$f" | seed "shared-$name-$mode" "$mode"; done
  else
    echo "seeds/dataset.sh: $shared/data/$f not found, skipped" >&2
  fi
done

# JSON: the first objects of each refusal-direction split, as an array (in
# the file's own indentation) and as JSONL.
"$py" - "$corpus" "$shared/data/refusal_direction" <<'PY'
import json, os, sys
corpus, d = sys.argv[1:3]
for split in ('harmful_train', 'harmful_val', 'harmless_train'):
    p = os.path.join(d, split + '.json')
    if not os.path.isfile(p):
        sys.stderr.write('seeds/dataset.sh: %s not found, skipped\n' % p)
        continue
    rows = json.load(open(p, encoding='utf-8'))[:12]
    arr = json.dumps(rows, indent=4, ensure_ascii=False).encode('utf-8')
    lines = ''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows).encode('utf-8')
    for mode in (0, 3, 7):  # defaults; text_col instruction; label_col category too
        open(os.path.join(corpus, 'seed-shared-%s-array-%d' % (split, mode)), 'wb').write(bytes([mode]) + arr)
        open(os.path.join(corpus, 'seed-shared-%s-jsonl-%d' % (split, mode)), 'wb').write(bytes([mode]) + lines)
PY

# Hand-written cases.
printf '\xef\xbb\xbfid,prompt,label\r\n1,"a, ""quoted""\r\nvalue",unsafe\r\n2,plain,safe' | seed bom-crlf 1
printf 'prompt,label\n"x\n\ny",1\n5" screen,0\n\n"",0\n' | seed quotes-empty 0
printf 'prompt,label\nA,1\nB,0,extra\nC\n"D\n' | seed ragged-unterminated 0
printf 'prompt,label\ncaf\xc3\xa9 \xf0\x9f\x98\x80,1\nbad \xed\xa0\x80 \xc0\xaf,0\n' | seed utf8 0
printf ',Goal,goal,text\n0,a,b,c\n1,d,e,f\n2,g,h,i\n' | seed index-column 2
printf '[{"prompt":"a","label":1},{"prompt":"b","label":1.0,"id":7},{"prompt":"c","label":true,"id":"x"},{"prompt":"d","label":null}]' | seed json-labels 1
printf '{"instruction":"a","category":"x"}\n\n{"instruction":"b","category":2.5}\r\n{"instruction":"c"}\n' | seed jsonl-mixed 7
printf ' [ ]' | seed json-empty 0
