"""The follow-up's colour groups (sca2 M1, shared/reference/sca2-m1 README §2.2): the score grid's
colours split by their selectivity target (similarity^power to the concept), with the concept
colour itself. One definition, read by the probes after training and by the trajectory during it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repro.method import colors as C


@dataclass(frozen=True)
class Groups:
    """The score grid and the concept colour, and which grid colours are target and others."""

    colors: np.ndarray  # [N + 1, 3]: the score grid's N colours, then the concept colour
    target: np.ndarray  # [N] similarity^power of each grid colour
    is_target: np.ndarray  # [N] target > target_above (sca2's REDS: 7 of 512)
    is_other: np.ndarray  # [N] target < others_below (sca2's OTHERS: 337 of 512)


def groups_of(spec) -> Groups:
    """The spec's groups (spec.evaluation.probes must be set)."""
    g = spec.evaluation.probes
    rgb = C.rgb_cube(spec.score.grid).reshape(-1, 3)
    target = C.concept_target(rgb, spec.score.against, g.power, spec.evaluation.concept_hsv, "angular")
    concept = C.hsv_to_rgb(np.asarray(spec.evaluation.concept_hsv, dtype=np.float64)).reshape(1, 3)
    return Groups(np.concatenate([rgb, concept]), target, target > g.target_above, target < g.others_below)
