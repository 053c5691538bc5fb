"""Weight surgery at the bottleneck (paper eq. ablation, App. C.2). Each returns a new model.

ablate: zero the encoder's output rows (and bias) and the decoder's input columns for `dims`.
prune: remove those rows and columns, shrinking the latent width.
Both renormalise the remaining dimensions (the L2 norm comes after the encoder), so they give
the same outputs up to float error; `SubspaceSuppression`, which zeroes after the norm, does not.

The authors' follow-up (sca2 M1, ex-2.9.2) edits the same rows of the encoder's last layer,
u = W h + b, before the norm:
- reflect: row -> -row, bias -> -bias, so u_d -> -u_d and the concept lands on its opposite;
- set_constant: row -> 0, bias -> c, so u_d = c for every input. c = -gamma is "redirect" (a
  constant push toward the opposite pole); the c that minimises the mean error over some colours
  is "optimal ablation" (Li & Janson 2024), found here by a line search over a fixed grid of c.
"""

from __future__ import annotations

import copy
from typing import cast, Literal

import numpy as np
import torch
from torch import nn

from repro.method.colors import concept_target, rgb_cube
from repro.method.interventions import InterventionKind
from repro.method.model import SphericalAutoencoder
from repro.base.schema import Problems, Strict, finite, latent_dims


def _producer_consumer(model: SphericalAutoencoder) -> tuple[nn.Linear, nn.Linear]:
    producer, consumer = cast(nn.Linear, model.encoder[-1]), cast(nn.Linear, model.decoder[0])
    if producer.out_features != consumer.in_features:
        raise RuntimeError("encoder output and decoder input widths differ")
    return producer, consumer


def _check_dims(dims, k: int) -> list[int]:
    dims = sorted({int(d) for d in dims})
    bad = [d for d in dims if not 0 <= d < k]
    if bad:
        raise IndexError(f"latent dims {bad} are outside 0..{k - 1}")
    return dims


def ablate(model: SphericalAutoencoder, dims) -> SphericalAutoencoder:
    """A copy of the model with latent `dims` zeroed in the encoder's last layer and the decoder's first."""
    out = copy.deepcopy(model)
    producer, consumer = _producer_consumer(out)
    dims = _check_dims(dims, producer.out_features)
    with torch.no_grad():
        producer.weight[dims, :] = 0
        producer.bias[dims] = 0
        consumer.weight[:, dims] = 0
    return out


def prune(model: SphericalAutoencoder, dims) -> SphericalAutoencoder:
    """A copy of the model without latent `dims`: the latent width shrinks."""
    out = copy.deepcopy(model)
    producer, consumer = _producer_consumer(out)
    k = producer.out_features
    dims = _check_dims(dims, k)
    keep = [i for i in range(k) if i not in dims]
    if not keep:
        raise ValueError("pruning every latent dimension leaves nothing to decode")
    with torch.device("meta"):  # no init draws: the weights are copied in below
        new_p = nn.Linear(producer.in_features, len(keep))
        new_c = nn.Linear(len(keep), consumer.out_features)
    new_p, new_c = new_p.to_empty(device="cpu"), new_c.to_empty(device="cpu")
    with torch.no_grad():
        new_p.weight.copy_(producer.weight[keep, :])
        new_p.bias.copy_(producer.bias[keep])
        new_c.weight.copy_(consumer.weight[:, keep])
        new_c.bias.copy_(consumer.bias)
    out.encoder[-1] = new_p
    out.decoder[0] = new_c
    out.latent_dim = len(keep)
    return out


class AblationSpec(InterventionKind):
    """Zero the encoder rows and decoder columns of latent `dims` (the rest renormalises)."""

    kind: Literal["ablation"]
    dims: list[int]

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from latent_dims("dims", self.dims, spec.model.latent_dim, allow_all=False)

    def apply(self, model, generator: torch.Generator, spec=None):
        return ablate(model, self.dims), None


class PruningSpec(AblationSpec):
    """Remove latent `dims` from the model, shrinking the latent width."""

    kind: Literal["pruning"]  # type: ignore[assignment]  # a kind of its own, with ablation's fields

    def apply(self, model, generator: torch.Generator, spec=None):
        return prune(model, self.dims), None



def reflect(model: SphericalAutoencoder, dims) -> SphericalAutoencoder:
    """A copy of the model with the pre-norm latent `dims` negated: their encoder rows and biases flipped."""
    out = copy.deepcopy(model)
    producer, _ = _producer_consumer(out)
    dims = _check_dims(dims, producer.out_features)
    with torch.no_grad():
        producer.weight[dims, :] = -producer.weight[dims, :]
        producer.bias[dims] = -producer.bias[dims]
    return out


def set_constant(model: SphericalAutoencoder, dims, c: float) -> SphericalAutoencoder:
    """A copy of the model whose pre-norm latent `dims` are the constant c for every input: their
    encoder rows zeroed and biases set to c (the decoder is untouched)."""
    out = copy.deepcopy(model)
    producer, _ = _producer_consumer(out)
    dims = _check_dims(dims, producer.out_features)
    with torch.no_grad():
        producer.weight[dims, :] = 0
        producer.bias[dims] = c
    return out


def constant_search(model: SphericalAutoencoder, dims, rgb: np.ndarray, constants: np.ndarray) -> tuple[float, np.ndarray]:
    """The constant c (of `constants`, in order) whose `set_constant` edit gives the lowest mean
    clamped per-colour MSE over `rgb` [N, 3], and the mean error of every c. Ties go to the first
    (a later c must be strictly better), so the answer does not depend on float noise in a flat
    stretch beyond the first minimum."""
    producer, _ = _producer_consumer(model)
    dims = _check_dims(dims, producer.out_features)
    x = torch.tensor(np.asarray(rgb, dtype=np.float32).reshape(-1, 3))
    was_training = model.training
    model.eval()
    errors = np.empty(len(constants))
    with torch.no_grad():
        u = model.encoder(x)  # pre-norm latents; an edit only replaces columns `dims`
        for i, c in enumerate(constants):
            v = u.clone()
            v[:, dims] = float(c)
            y = model.decode(torch.nn.functional.normalize(v, dim=-1))
            errors[i] = float(((y - x) ** 2).mean(dim=-1).mean())
    model.train(was_training)
    best = 0
    for i in range(1, len(constants)):
        if errors[i] < errors[best]:
            best = i
    return float(constants[best]), errors


class RowEditSpec(InterventionKind):
    """An edit of the encoder's output rows (and biases) of latent `dims`, before the norm."""

    dims: list[int]

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from latent_dims("dims", self.dims, spec.model.latent_dim, allow_all=False)


class ReflectSpec(RowEditSpec):
    """Negate the pre-norm latent `dims` (encoder rows and biases): the concept lands on its opposite.
    Not a deletion: a second reflection undoes it."""

    kind: Literal["reflect"]

    def apply(self, model, generator: torch.Generator, spec=None):
        """The reflected copy."""
        return reflect(model, self.dims), None


class RedirectSpec(RowEditSpec):
    """Zero the encoder rows of `dims` and set their biases to -gamma: every colour's pre-norm latent
    there is -gamma, a constant push toward the concept's opposite pole."""

    kind: Literal["redirect"]
    gamma: float

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from finite("gamma", self.gamma, 0.0, 1e6, "a finite number in [0, 1e6]")

    def apply(self, model, generator: torch.Generator, spec=None):
        """The redirected copy."""
        return set_constant(model, self.dims, -self.gamma), None


class ConstantSearch(Strict):
    """The constants an optimal ablation tries: start, start + step, ..., up to stop (never beyond)."""

    start: float
    stop: float
    step: float

    def values(self) -> np.ndarray:
        """The constants, in order (float64; `stop` included when the steps land on it)."""
        n = int(np.floor((self.stop - self.start) / self.step + 1e-9)) + 1  # a step that lands on stop counts
        return np.round(self.start + self.step * np.arange(n), 12)


class OptimalAblationSpec(RowEditSpec):
    """Zero the encoder rows of `dims` and set their biases to the constant that minimises the mean
    clamped error over the score grid's colours (`over = "all"`), or over its non-target colours only
    (`over = "non-target"`: selectivity target below `non_target_below`), by a line search."""

    kind: Literal["optimal-ablation"]
    over: Literal["all", "non-target"]
    non_target_below: float
    constants: ConstantSearch

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from finite("non_target_below", self.non_target_below, 0.0, 1.0, "a number in [0, 1]")
        c = self.constants
        if not (all(map(np.isfinite, (c.start, c.stop, c.step))) and c.step > 0 and c.stop >= c.start
                and (c.stop - c.start) / c.step <= 100_000):
            yield "constants", "needs finite start <= stop and step > 0, with at most 100,000 constants"

    def search_colors(self, spec) -> np.ndarray:
        """The colours the constant is chosen on: the score grid, or its non-target part."""

        rgb = rgb_cube(spec.score.grid).reshape(-1, 3)
        if self.over == "all":
            return rgb
        target = concept_target(rgb, self.selectivity_against, self.selectivity_power,
                                spec.evaluation.concept_hsv, "angular")
        return rgb[target < self.non_target_below]

    def constant(self, model, spec) -> float:
        """The chosen constant for this model."""
        return constant_search(model, self.dims, self.search_colors(spec), self.constants.values())[0]

    def apply(self, model, generator: torch.Generator, spec=None):
        """The copy with the chosen constant."""
        if spec is None:
            raise ValueError("optimal ablation chooses its constant on the spec's score grid: pass spec")
        return set_constant(model, self.dims, self.constant(model, spec)), None

    def details(self, edited) -> dict[str, float]:
        """The chosen constant, as the edit left it in the encoder's bias (no second search)."""
        producer, _ = _producer_consumer(edited)
        return {"constant": float(producer.bias.detach()[self.dims[0]])}
