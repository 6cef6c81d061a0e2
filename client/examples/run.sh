#!/bin/sh
# run.sh CLIENT DIR — run every DIR/NAME.py through CLIENT and check the result.
#
#   NAME.in      input rows (default: empty input)
#   NAME.args    extra client arguments, e.g. --columns a,b (optional)
#   NAME.out     expected stdout, byte for byte
#   NAME.status  expected exit status (default 0)
#   NAME.err     lines that must each appear in stderr (optional)
set -u
client=$1 dir=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 failed=0

for script in "$dir"/*.py; do
    name=$(basename "$script" .py)
    base=$dir/$name
    [ -f "$base.out" ] || continue   # helper modules have no expected output
    args=$(cat "$base.args" 2>/dev/null || true)
    input=$base.in; [ -f "$input" ] || input=/dev/null
    want_status=$(cat "$base.status" 2>/dev/null || echo 0)

    # shellcheck disable=SC2086  # args are word-split on purpose
    "$client" run "$script" $args <"$input" >"$tmp/out" 2>"$tmp/err"
    status=$?

    problem=
    if [ "$status" -ne "$want_status" ]; then
        problem="exit status $status, expected $want_status"
    elif ! cmp -s "$tmp/out" "$base.out"; then
        problem="output differs:
$(diff "$base.out" "$tmp/out" | head -n 20)"
    elif [ -f "$base.err" ]; then
        while IFS= read -r line; do
            grep -qF -- "$line" "$tmp/err" || problem="stderr lacks: $line"
        done <"$base.err"
    fi
    if [ -n "$problem" ]; then
        failed=$((failed + 1))
        echo "FAIL $name: $problem"
        sed 's/^/    stderr: /' "$tmp/err" | head -n 20
    else
        pass=$((pass + 1))
        echo "ok   $name"
    fi
done

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$pass" -gt 0 ]
