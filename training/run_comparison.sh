#!/usr/bin/env bash
# Train the four variants under one budget (same steps, batch, data, seed), two at a time
# on a 2-core CPU, one thread each. (The committed runs were scheduled pix2pix || unet_mse,
# then lab_ab, then cgan_lab_grad as a slot freed; the settings are exactly these.)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-400}
run() { .venv/bin/python -m training.train --config "training/configs/$1.toml" --steps "$STEPS" \
          --steps-per-epoch 50 --batch 8 --threads 1 "${@:2}"; }
(run pix2pix && run cgan_lab_grad) > runs/gan.log 2>&1 &
(run unet_mse && run lab_ab) > runs/regression.log 2>&1 &
wait
