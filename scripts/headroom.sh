#!/usr/bin/env bash
# The phantom's headroom for the method (issue 3): one preset trained from random init on 2 labeled volumes and
# on all 20 labeled training volumes of a 32-volume phantom (10 test, 2 validation), Dice on the same test set.
#   bash scripts/headroom.sh [preset] [out]      (defaults: small, runs/headroom; needs npm run build)
set -euo pipefail
preset=${1:-small}; out=${2:-runs/headroom}
mkdir -p "$out"
node dist/cli.js phantom --out "$out/data" --n 32 --seed 1
for n in 2 all; do
  extra=(); [ "$n" = all ] || extra=(--labeled "$n")
  node dist/cli.js train --data "$out/data" --preset "$preset" "${extra[@]}" --out "$out/$preset-$n" 2>&1 | tr '\r' '\n' | grep -v '^train \[' | tee "$out/$preset-$n.log"
done
grep -H "^mean " "$out/$preset"-*.log
