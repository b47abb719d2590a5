"""Weight-space interpolation of two fine-tunes of one model ("model soup", WiSE-FT).

`python -m training.studies.soup --base models/a.pt --other models/b.pt --weight 0.25 --out runs/soup_25.pt`

Both checkpoints must share the architecture and start from the same weights (e.g. two fine-tunes of
`lab_context`), or the average is meaningless. Every floating-point tensor, BatchNorm running statistics
included, becomes (1 - weight) × base + weight × other; the result costs nothing extra at inference.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

from core.errors import CheckpointError
from core.model.checkpoints import LoadedModel, load_checkpoint, save_checkpoint


def interpolate(base: LoadedModel, other: LoadedModel, weight: float) -> LoadedModel:
    """`base` moved `weight` of the way towards `other` (0 = base, 1 = other), as a new model."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight}")
    if base.config != other.config:
        raise CheckpointError(f"{base.name} and {other.name} have different architectures; they cannot be averaged.")
    ours, theirs = base.generator.state_dict(), other.generator.state_dict()
    mixed = {k: (1 - weight) * v + weight * theirs[k] if v.is_floating_point() else v for k, v in ours.items()}
    soup = copy.deepcopy(base)
    soup.generator.load_state_dict(mixed)
    soup.metadata = {**base.metadata, "soup": {"base": base.name, "other": other.name, "weight": weight}}
    return soup


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="checkpoint at weight 0")
    parser.add_argument("--other", type=Path, required=True, help="checkpoint at weight 1")
    parser.add_argument("--weight", type=float, required=True, help="share of --other, in [0, 1]")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    soup = interpolate(load_checkpoint(args.base), load_checkpoint(args.other), args.weight)
    print(save_checkpoint(args.out, soup.generator, soup.metadata))


if __name__ == "__main__":
    main()
