#!/usr/bin/env bash
# run-fuzz.sh BINARY SECONDS CORPUS_DIR [extra libFuzzer flags...]
# Builds the seed corpus for the target named by BINARY (fuzz_<name>) into
# CORPUS_DIR (kept between runs, so coverage accumulates), then fuzzes for
# SECONDS. Seeds come from fuzz/seeds/<name>.sh if present: a script that
# receives the corpus directory and copies or writes seed inputs into it.
# Extra libFuzzer flags for a target (e.g. -max_len) come from an optional
# fuzz/seeds/<name>.flags file (whitespace-separated, '#' lines ignored),
# placed before the command-line flags so those can override them, and an
# optional libFuzzer dictionary from fuzz/seeds/<name>.dict.
set -euo pipefail
bin="$1"; seconds="$2"; corpus="$3"; shift 3
name="$(basename "$bin")"
here="$(cd "$(dirname "$0")" && pwd)"
export ATTRIB_SHARED="${ATTRIB_SHARED:-$here/../../shared}"
export ATTRIB_SOURCE="${ATTRIB_SOURCE:-$here/..}"
mkdir -p "$corpus"
if [ -x "$here/seeds/${name#fuzz_}.sh" ] || [ -f "$here/seeds/${name#fuzz_}.sh" ]; then
  bash "$here/seeds/${name#fuzz_}.sh" "$corpus"
fi
flags=()
if [ -f "$here/seeds/${name#fuzz_}.flags" ]; then
  read -r -a flags <<< "$(grep -v '^#' "$here/seeds/${name#fuzz_}.flags" | tr '\n' ' ')"
fi
if [ -f "$here/seeds/${name#fuzz_}.dict" ]; then flags+=("-dict=$here/seeds/${name#fuzz_}.dict"); fi
artifacts="$corpus/../artifacts-$name"
mkdir -p "$artifacts"
echo "fuzzing $name for ${seconds}s from $(ls "$corpus" | wc -l) corpus files"
exec "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" -rss_limit_mb=4096 "${flags[@]}" "$@" "$corpus"
