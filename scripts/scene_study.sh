#!/usr/bin/env bash
# Scene generalization (issue 18): an image policy trained on `stack` in 1000 varied kitchens against one
# trained in a single fixed kitchen, both evaluated on their training kitchens and on kitchens never seen.
# Each step is skipped when its output exists, so a stopped run continues. Results: docs/learning.md.
set -euo pipefail
OUT=${OUT:-runs/scene_study}
DEMOS=${DEMOS:-1000}
STEPS=${STEPS:-8000}
EPISODES=${EPISODES:-50}
UNSEEN_SEED=${UNSEEN_SEED:-7777}  # generation uses --seed 0, so these kitchens were never trained on
df=${DEMOFORGE:-demoforge}
mkdir -p "$OUT"

[ -f "$OUT/source.hdf5" ] || $df source --task stack --num 10 --variation D0 --out "$OUT/source.hdf5"
for arm in varied fixed; do
  pool=(); [ "$arm" = fixed ] && pool=(--distinct-scenes 1)
  [ -f "$OUT/$arm/demos.hdf5" ] || $df generate --task stack --source "$OUT/source.hdf5" --num-demos "$DEMOS" \
      --variation D0 --scenes kitchen "${pool[@]}" --seed 0 --cameras agentview,wrist --image-size 84 \
      --no-next-obs --out "$OUT/$arm" --resume
  [ -f "$OUT/policy_$arm/policy.pt" ] || $df train --data "$OUT/$arm/demos.hdf5" --cameras agentview,wrist \
      --steps "$STEPS" --batch-size 64 --out "$OUT/policy_$arm" --resume
  [ -f "$OUT/eval_${arm}_trained.json" ] || $df eval --policy "$OUT/policy_$arm" --task stack --variation D0 \
      --episodes "$EPISODES" --scenes kitchen --scene-seed 0 "${pool[@]}" --json "$OUT/eval_${arm}_trained.json" \
      --video "$OUT/eval_${arm}_trained.mp4" --overwrite
  [ -f "$OUT/eval_${arm}_unseen.json" ] || $df eval --policy "$OUT/policy_$arm" --task stack --variation D0 \
      --episodes "$EPISODES" --scenes kitchen --scene-seed "$UNSEEN_SEED" --json "$OUT/eval_${arm}_unseen.json" \
      --video "$OUT/eval_${arm}_unseen.mp4" --overwrite
done
