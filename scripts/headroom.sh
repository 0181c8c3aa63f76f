#!/usr/bin/env bash
# The phantom's headroom for the method (issue 3): one preset trained from random init on 2 labeled volumes and
# on all 20 labeled training volumes of a 32-volume phantom (10 test, 2 validation), Dice on the same test set.
#   bash scripts/headroom.sh [preset] [out]      (defaults: small, runs/headroom; needs npm run build)
# HEADROOM_PARALLEL=1 runs the two trainings at once (a GPU machine with idle CPU cores).
set -euo pipefail
preset=${1:-small}; out=${2:-runs/headroom}
mkdir -p "$out"
node dist/cli.js phantom --out "$out/data" --n 32 --seed 1
one() { # one N: train on N labeled volumes ('all': every labeled training volume)
  local extra=(); [ "$1" = all ] || extra=(--labeled "$1")
  node dist/cli.js train --data "$out/data" --preset "$preset" "${extra[@]}" --out "$out/$preset-$1" 2>&1 |
    tr '\r' '\n' | grep -v '^train \[' > "$out/$preset-$1.log"
}
if [ "${HEADROOM_PARALLEL:-0}" = 1 ]; then
  one 2 & p=$!; one all; wait $p
else
  one 2; one all
fi
cat "$out/$preset-2.log" "$out/$preset-all.log"
grep -H "^mean " "$out/$preset"-*.log
