#!/bin/sh
# run-fuzz.sh: runs each libFuzzer target given for FUZZ_SECONDS (default 60)
# on its corpus in $AIGW_SRCDIR/tests/fuzz/corpus/<target>/, adding what it
# finds there, then minimises that corpus (-merge=1) so that the committed
# directory keeps only inputs that add coverage, besides the seed-* and
# regress-* inputs, which always stay. FUZZ_SECONDS=0 only replays the
# corpus (a quick regression check) and minimises; FUZZ_MERGE=0 skips the
# minimising. Called by "make fuzz" from the build directory; exits
# non-zero when any target crashed, leaked or hung, after running the rest.
#
# usage: run-fuzz.sh tests/fuzz/fuzz_request [tests/fuzz/fuzz_template ...]
set -u

src=${AIGW_SRCDIR:?AIGW_SRCDIR must name the source tree}
seconds=${FUZZ_SECONDS:-60}
merge=${FUZZ_MERGE:-1}
out=tests/fuzz/out
mkdir -p "$out/artifacts" || exit 1

# A leak or an UBSan report is a failure like a crash.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS AIGW_SRCDIR

failed=
summary=
for prog in "$@"; do
	name=$(basename "$prog")
	corpus=$src/tests/fuzz/corpus/$name
	dict=$out/$name.dict
	log=$out/$name.log
	mkdir -p "$corpus" || exit 1
	# libFuzzer takes one dictionary: the JSON tokens every target parses,
	# plus the target's own words.
	cat "$src/tests/fuzz/dict/json.dict" > "$dict" || exit 1
	if [ -f "$src/tests/fuzz/dict/$name.dict" ]; then
		cat "$src/tests/fuzz/dict/$name.dict" >> "$dict" || exit 1
	fi

	echo "== $name: ${seconds} s on $(ls "$corpus" | wc -l) inputs (log: $log)"
	if [ "$seconds" = 0 ]; then
		length=-runs=0
	else
		length=-max_total_time=$seconds
	fi
	"./$prog" "$length" -timeout=25 -rss_limit_mb=2048 \
		-print_final_stats=1 -dict="$dict" -artifact_prefix="$out/artifacts/$name-" \
		"$corpus" > "$log" 2>&1
	status=$?
	if [ $status -ne 0 ]; then
		echo "!! $name failed (exit $status); the input is in $out/artifacts/:"
		grep -aE '^==[0-9]+==ERROR|^SUMMARY|runtime error|Test unit written' "$log" | head -n 20
		failed="$failed $name"
		summary="$summary
$name: FAILED (exit $status), see $log"
		continue
	fi
	# "#1020859 DONE cov: 400 ft: 895 corp: ..." and "(2960 inline 8-bit
	# counters)": runs, edges reached of those instrumented, features.
	stats=$(grep -aE '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -n 1 |
		sed -E 's/^#([0-9]+)[[:space:]]+[A-Z]+[[:space:]]+cov: ([0-9]+) ft: ([0-9]+).*/\1 runs, cov \2 ft \3/')
	edges=$(grep -aoE '\([0-9]+ inline 8-bit counters\)' "$log" | head -n 1 | sed -E 's/^\(([0-9]+) .*/\1/')
	stats="$stats (of $edges edges)"

	if [ "$merge" != 0 ]; then
		# The seed-* (readable examples of the input format) and
		# regress-* (inputs that once failed) files stay; into a scratch
		# directory holding them, -merge=1 adds the other inputs that
		# reach something they do not, named by the SHA-1 of their
		# content. Every other input leaves the corpus.
		min=$out/$name.min
		rm -rf "$min" && mkdir -p "$min" || exit 1
		for f in "$corpus"/seed-* "$corpus"/regress-*; do
			[ -f "$f" ] && { cp "$f" "$min/" || exit 1; }
		done
		if ! "./$prog" -merge=1 -timeout=25 -rss_limit_mb=2048 "$min" "$corpus" \
			> "$out/$name.merge.log" 2>&1; then
			echo "!! $name: minimising failed, see $out/$name.merge.log"
			failed="$failed $name"
			continue
		fi
		for f in "$corpus"/*; do
			[ -f "$f" ] || continue
			case $(basename "$f") in seed-*|regress-*) continue ;; esac
			sum=$(sha1sum < "$f" | cut -d' ' -f1)
			[ -e "$min/$sum" ] || rm -f "$f"
		done
		rm -rf "$min"
	fi
	files=$(ls "$corpus" | wc -l)
	bytes=$(cat "$corpus"/* 2>/dev/null | wc -c)
	echo "   $stats; corpus $files inputs, $bytes bytes"
	summary="$summary
$name: ${seconds} s, $stats; corpus $files inputs, $bytes bytes"
done

echo "== fuzz summary$summary"
if [ -n "$failed" ]; then
	echo "run-fuzz.sh: failed:$failed" >&2
	exit 1
fi
exit 0
