#!/usr/bin/env bash
# Runs the core crate's examples (crates/safemmap/examples) on small
# generated files and checks what they print against the system's own
# tools (wc, grep, od, sort) or against numbers known in advance.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p safemmap --examples
bin=${CARGO_TARGET_DIR:-target}/debug/examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "examples: $*" >&2; exit 1; }

# Text: numbered lines, some with the needle, and a last line without a newline.
text=$work/text
for i in $(seq 1 5000); do
    if (( i % 7 == 0 )); then echo "line $i has a needle in it"; else echo "line $i"; fi
done > "$text"
printf 'last needle, no newline' >> "$text"

[ "$("$bin/wc_l" "$text")" = "$(wc -l < "$text") $text" ] || fail "wc_l differs from wc -l"
diff <("$bin/grep_n" needle "$text") <(grep -nF needle "$text") || fail "grep_n differs from grep -nF"
diff <("$bin/grep_n" absent "$text") /dev/null || fail "grep_n found what is not there"

records=$work/records
count=10000
"$bin/records" create "$records" $count
[ "$(stat -c %s "$records")" = $((count * 16)) ] || fail "records create: wrong file size"
keys() { od -An -v -t u8 -w16 "$1" | awk '{print $1}'; }
[ "$("$bin/records" get "$records" 0 9999)" = "$(keys "$records" | sed -n '1p;10000p' | paste -d' ' - <(printf '0\n9999\n'))" ] \
    || fail "records get differs from od"
"$bin/records" get "$records" $count 2>/dev/null && fail "records get past the end succeeded"
sum=$((count * (count - 1) / 2))
[ "$("$bin/records" sum "$records")" = $sum ] || fail "records sum is not $sum"

keys "$records" | sort -n > "$work/sorted-keys"
"$bin/sort_records" "$records"
diff <(keys "$records") "$work/sorted-keys" > /dev/null || fail "sort_records did not sort by key"
[ "$("$bin/records" sum "$records")" = $sum ] || fail "sort_records lost records"

fault=$("$bin/fault")
grep -q "^fault: the page at offset $(getconf PAGESIZE) has no backing" <<< "$fault" \
    || fail "fault did not recognise the fault: $fault"
echo "examples: wc_l, grep_n, records, sort_records and fault agree"
