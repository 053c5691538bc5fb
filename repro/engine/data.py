"""What training reads from a spec: the colour grid, label probabilities, the validation set,
the regularisers, the schedule, and each seed's initial model and replayed batches.

Everything random flows from one generator per seed, seeded with that seed, in upstream's
order: model init, then the batch plan (repro.engine.replay).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from repro.method import colors as C
from repro.method.model import SphericalAutoencoder, build_model
from repro.method.regularizers import Regularizer
from repro.engine.replay import BatchPlan, every_n_epochs, every_n_steps, plan_batches
from repro.config.spec import Spec
from repro.engine.train import ValidationSet


def label_probabilities(spec: Spec, rgb: np.ndarray) -> dict[str, Tensor]:
    """p(label) per colour, computed in float64 then cast to float32 (as upstream)."""
    return {name: torch.tensor(C.ATTRIBUTES[lab.attribute](rgb) ** lab.power * lab.scale, dtype=torch.float32)
            for name, lab in spec.labels.items()}


def validation_set(spec: Spec) -> ValidationSet:
    """The spec's validation colours with their exact labels."""
    v = spec.validation
    rgb = C.validation_colors(v.colors, v.grid)
    labels = {name: torch.tensor(C.ATTRIBUTES[lab.attribute](rgb) == 1, dtype=torch.float32)
              for name, lab in spec.labels.items() if lab.validation == "exact"}
    return ValidationSet(torch.tensor(rgb, dtype=torch.float32), labels, v.batch_size)


def regularizers(spec: Spec) -> list[Regularizer]:
    """The spec's regularisers, built, in spec order."""
    return [r.build(name) for name, r in spec.regularizers.items()]


def schedule_of(spec: Spec) -> dict[str, list[float]]:
    """Every dopesheet property per timeline row (float64); the spec checks lr is there.
    Training's step k reads row min(k, rows - 2) (upstream's loop); with `final_row = "applied"`
    the last row is given twice, so the last step reads it (the authors' JAX port)."""
    rows = spec.sheet.realize()
    if spec.final_row == "applied":
        rows = {k: [*v, v[-1]] for k, v in rows.items()}
    return rows


def initial_models_and_plans(spec: Spec, seeds: Sequence[int]) -> tuple[Tensor, list[SphericalAutoencoder], list[BatchPlan]]:
    """The training colours [N, 3], and per seed its initial model and batch plan, each seed
    from its own generator."""
    rgb = C.rgb_cube(spec.data.grid).reshape(-1, 3)
    probs = label_probabilities(spec, rgb)
    v = spec.validation
    validates = every_n_steps(v.every) if v.unit == "steps" else every_n_epochs(v.every)
    sample = None if v.sample is None else (v.sample, len(validation_set(spec).colors))
    m = spec.model
    models, plans = [], []
    for s in seeds:
        g = torch.Generator().manual_seed(s)
        models.append(build_model(m.latent_dim, m.hidden_width, m.hidden_layers, g, m.gelu))
        plans.append(plan_batches(g, len(rgb), probs, len(spec.sheet), spec.data.batch_size,
                                  spec.data.loader_workers, validates, sample))
    return torch.tensor(rgb, dtype=torch.float32), models, plans
