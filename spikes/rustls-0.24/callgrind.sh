#!/usr/bin/env bash
# Instructions per byte under callgrind, for each contender, write size and direction:
# the marginal cost of 16 MiB more (a 32 MiB transfer minus a 16 MiB one, so that start-up,
# the certificate and the handshake cancel out), in total and in memcpy/memmove alone (the
# copies that in-place decryption should remove).
# Usage: spikes/rustls-0.24/callgrind.sh   (needs valgrind; builds the spike in release)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
cargo build -q --release -p spike-rustls-024
bin=target/release/spike-rustls-024
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Total instructions, and those in memcpy/memmove, of one run.
measure() {
    local file="$out/cg.$RANDOM"
    valgrind --tool=callgrind --callgrind-out-file="$file" "$bin" "$@" >/dev/null 2>&1
    local total copies
    total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    copies=$(callgrind_annotate --threshold=100 "$file" 2>/dev/null \
        | awk '/mem(cpy|move)/ {gsub(",", "", $1); s += $1} END {print s + 0}')
    echo "$total $copies"
}
echo "| contender | direction | write | Ir/byte | memcpy+memmove Ir/byte |"
echo "|---|---|---|---|---|"
for way in client-to-server server-to-client; do
    flag=""; [ "$way" = server-to-client ] && flag="--server-to-client"
    for kib in 16 1; do
        for who in released kept ours tokio-rustls; do
            read -r t16 c16 < <(measure --only-bulk "$who" --write-kib "$kib" --mib 16 $flag)
            read -r t32 c32 < <(measure --only-bulk "$who" --write-kib "$kib" --mib 32 $flag)
            bytes=$((16 << 20))
            awk -v w="$who" -v d="$way" -v k="$kib" -v t=$((t32 - t16)) -v c=$((c32 - c16)) -v b=$bytes \
                'BEGIN {printf "| %s | %s | %d KiB | %.2f | %.2f |\n", w, d, k, t / b, c / b}'
        done
    done
done
