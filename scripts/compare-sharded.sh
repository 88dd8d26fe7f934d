#!/usr/bin/env bash
# Runs one `attrib compare` as N shards with GNU parallel (Debian package
# `parallel`), on this machine or across hosts (--sshlogin), then merges the
# shards with `attrib compare --merge`. The merged document equals the
# unsharded run's (docs/compare.md, "Sharding a large dataset").
#
#   usage: scripts/compare-sharded.sh -n N -o OUT.json [options] -- COMPARE-ARGS...
#     -n N              number of shards
#     -o OUT.json       the merged document (the shards go to OUT.json.shards/)
#     --html FILE       the merged HTML report too
#     -j JOBS           shards running at once (per host); default: min(N, cores) here,
#                       one per core on each --sshlogin host
#     -t THREADS        threads per shard; default: cores / JOBS here, 1 with --sshlogin
#     --sshlogin LIST   GNU parallel's host list, e.g. "8/alice@node1,8/node2,:" (":" is
#                       this machine). Every host must see the same files at the same
#                       paths (a shared file system) and have attrib at --attrib's path.
#     --attrib PATH     the attrib binary (default: $ATTRIB_BIN, else build/attrib)
#     --dir DIR         where the shards go (default OUT.json.shards)
#   COMPARE-ARGS are those of one `attrib compare` run without --shard and -o,
#   e.g.  -- MODEL --probe P.gguf --data D.csv --positive unsafe
#
# Run it again after a failure or an interrupt (Ctrl-C): shards that finished
# are not run again (parallel's --joblog), and a stopped shard continues
# from its journal (attrib's --resume). Exit status: that of the merge (0, or
# 3 when some rows failed in a method and are listed in "failed"), or 1 when
# a shard did not finish.
set -euo pipefail

die() { echo "compare-sharded.sh: $*" >&2; exit 2; }
N="" OUT="" HTML="" JOBS="" THREADS="" SSHLOGIN="" DIR=""
ATTRIB="${ATTRIB_BIN:-build/attrib}"
while [ $# -gt 0 ]; do
  case "$1" in
    -n) N="${2:?}"; shift 2 ;;
    -o|--out) OUT="${2:?}"; shift 2 ;;
    --html) HTML="${2:?}"; shift 2 ;;
    -j) JOBS="${2:?}"; shift 2 ;;
    -t) THREADS="${2:?}"; shift 2 ;;
    --sshlogin|-S) SSHLOGIN="${2:?}"; shift 2 ;;
    --attrib) ATTRIB="${2:?}"; shift 2 ;;
    --dir) DIR="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (the compare arguments go after --)" ;;
  esac
done
case "$N" in ''|*[!0-9]*|0) die "give the number of shards with -n N (N >= 1)" ;; esac
[ -n "$OUT" ] || die "give the merged document with -o OUT.json"
[ $# -gt 0 ] || die "give the attrib compare arguments after --"
for a in "$@"; do
  case "$a" in
    --shard|-o|--out|--resume) die "'$a' is set by the script: leave it out of the compare arguments" ;;
    --html|--csv) die "'$a' would be written by every shard at once: give --html to the script (before --)" ;;
  esac
done
command -v parallel >/dev/null || die "GNU parallel is missing (Debian: apt-get install parallel)"
# every host runs the same command line: absolute paths for the binary and the outputs
case "$ATTRIB" in /*) ;; */*) ATTRIB="$PWD/$ATTRIB" ;; *) ATTRIB="$(command -v "$ATTRIB" || echo "$ATTRIB")" ;; esac
DIR="${DIR:-$OUT.shards}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

CORES="$(nproc 2>/dev/null || echo 1)"
PAR=(--joblog "$DIR/joblog" --resume-failed --halt never --line-buffer)
if [ -n "$SSHLOGIN" ]; then
  PAR+=(--sshlogin "$SSHLOGIN")
  THREADS="${THREADS:-1}"
else
  JOBS="${JOBS:-$(( N < CORES ? N : CORES ))}"
  THREADS="${THREADS:-$(( CORES / JOBS > 0 ? CORES / JOBS : 1 ))}"
fi
[ -n "$JOBS" ] && PAR+=(-j "$JOBS")

# One shard's command, quoted for the (remote) shell; {} is the shard number.
# It runs in this directory (relative paths in COMPARE-ARGS keep working on a
# shared file system) and always with --resume: a rerun continues a stopped shard.
# Each shard's table goes to shard-K.txt beside its document.
Q="$(printf '%q' "$DIR")"
CMD="cd $(printf '%q' "$PWD") && $(printf '%q ' "$ATTRIB" compare "$@")--shard {}/$N -t $THREADS -q --resume -o $Q/shard-{}.json > $Q/shard-{}.txt"
# a directory holds the shards of one run (the thread count may change): refuse to mix runs
RUN="$(printf '%q ' "$@")/ $N shards"
if [ -f "$DIR/run" ] && [ "$(cat "$DIR/run")" != "$RUN" ]; then
  die "$DIR holds shards of another run ($(cat "$DIR/run")); remove it or choose --dir"
fi
printf '%s' "$RUN" > "$DIR/run"

echo "compare-sharded.sh: $N shards, ${JOBS:-one per core} at once${SSHLOGIN:+ on $SSHLOGIN}, $THREADS threads each; shards in $DIR" >&2
set +e
seq 1 "$N" | parallel "${PAR[@]}" "$CMD"
status=$?
set -e
SHARDS=()
missing=0
for k in $(seq 1 "$N"); do
  f="$DIR/shard-$k.json"
  if [ -f "$f" ]; then SHARDS+=("$f"); else missing=$((missing + 1)); fi
done
if [ "$missing" -gt 0 ]; then
  echo "compare-sharded.sh: $missing of $N shards did not finish (parallel exit $status; see $DIR/joblog)." >&2
  echo "  run the same command again to continue them" >&2
  exit 1
fi
MERGE=("$ATTRIB" compare --merge "${SHARDS[@]}" --out "$OUT")
[ -n "$HTML" ] && MERGE+=(--html "$HTML")
"${MERGE[@]}"
