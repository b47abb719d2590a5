#!/usr/bin/env bash
# Every design under one wall-clock budget (MIN minutes each, default 10), one thread, one after another,
# all in the default's input space (except the input-space ablation). Runs land in runs/<name>/.
set -euo pipefail
cd "$(dirname "$0")/.."
MIN=${MIN:-10}
SPACE='generator.input_space="fixed"'
run() { .venv/bin/python -m training.train --config "training/configs/$1.toml" --threads 1 --steps 1000000 \
          --steps-per-epoch 250 --max-minutes "$MIN" "${@:2}"; }
run lab_context
run lab_context --name lab_context_stretch --set 'generator.input_space="stretch"'
run lab_ab --set "$SPACE"
run unet_mse --set "$SPACE"
run pix2pix --set "$SPACE"
run cgan_lab_grad --set "$SPACE"
