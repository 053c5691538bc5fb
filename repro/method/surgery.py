"""Weight surgery at the bottleneck (paper eq. ablation, App. C.2). Both return a new model.

ablate: zero the encoder's output rows (and bias) and the decoder's input columns for `dims`.
prune: remove those rows and columns, shrinking the latent width.
Both renormalise the remaining dimensions (the L2 norm comes after the encoder), so they give
the same outputs up to float error; `SubspaceSuppression`, which zeroes after the norm, does not.
"""

from __future__ import annotations

import copy
from typing import cast, Literal

import torch
from torch import nn

from repro.method.interventions import InterventionKind
from repro.method.model import SphericalAutoencoder
from repro.base.schema import Problems, latent_dims


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

    def apply(self, model, generator: torch.Generator):
        return ablate(model, self.dims), None


class PruningSpec(AblationSpec):
    """Remove latent `dims` from the model, shrinking the latent width."""

    kind: Literal["pruning"]  # type: ignore[assignment]  # a kind of its own, with ablation's fields

    def apply(self, model, generator: torch.Generator):
        return prune(model, self.dims), None

