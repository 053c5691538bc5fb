"""The spherical autoencoder: x -> encoder -> z / ||z|| -> decoder -> y.

    encoder = Linear(3, H), GELU, [Linear(H, H), GELU] * (n - 1), Linear(H, E)
    (GELU exact, with erf, as upstream; or its tanh approximation, as the authors' JAX port)
    bottleneck = z / max(||z||_2, 1e-12)          (latents live on the unit sphere S^(E-1))
    decoder = Linear(E, H), GELU, [Linear(H, H), GELU] * (n - 1), Linear(H, 3)

Outputs are unconstrained in training and clamped to [0, 1] in evaluation. Module names and
creation order follow upstream (encoder.0, encoder.2, ...), because the order in which the
Linear layers draw their initial weights decides which model a seed gives.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import pickle
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from repro.base.errors import ReproError, first_line

LatentMap = Callable[[Tensor], Tensor]


GELUS = {"exact": "none", "tanh": "tanh"}  # the spec's word -> torch's `approximate`


def _codec(sizes: list[int], gelu: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.GELU(approximate=GELUS[gelu]))
    return nn.Sequential(*layers)


class SphericalAutoencoder(nn.Module):
    """The autoencoder with its latents on the unit sphere (see the module's docstring)."""

    def __init__(self, latent_dim: int, hidden_width: int = 16, hidden_layers: int = 1, gelu: str = "exact"):
        super().__init__()
        hidden = [hidden_width] * hidden_layers
        self.latent_dim, self.hidden_width, self.hidden_layers, self.gelu = latent_dim, hidden_width, hidden_layers, gelu
        self.encoder = _codec([3, *hidden, latent_dim], gelu)
        self.decoder = _codec([latent_dim, *hidden, 3], gelu)

    def encode(self, x: Tensor) -> Tensor:  # [B, 3] -> [B, E], unit norm
        """Colours [B, 3] to unit latents [B, E]."""
        return F.normalize(self.encoder(x), dim=-1)

    def decode(self, z: Tensor) -> Tensor:  # [B, E] -> [B, 3]
        """Latents [B, E] to colours [B, 3] (clamped to [0, 1] in evaluation)."""
        y = self.decoder(z)
        return y if self.training else y.clamp(0, 1)

    def forward(self, x: Tensor, intervene: LatentMap | None = None) -> tuple[Tensor, Tensor]:
        """Reconstruction [B, 3] and the (possibly intervened) latents [B, E]."""
        z = self.encode(x)
        if intervene is not None:
            z = intervene(z)
        return self.decode(z), z

    def linears(self) -> list[nn.Linear]:
        """The Linear layers in forward order."""
        return [m for m in self.modules() if isinstance(m, nn.Linear)]


def build_model(
    latent_dim: int, hidden_width: int, hidden_layers: int, generator: torch.Generator, gelu: str = "exact"
) -> SphericalAutoencoder:
    """Build the model and draw its initial weights from `generator`.

    Each Linear draws weight [out, in] row-major then bias, encoder first, exactly as
    torch's default init (kaiming-uniform with a = sqrt(5)) would from the global generator.
    """
    with torch.device("meta"):
        model = SphericalAutoencoder(latent_dim, hidden_width, hidden_layers, gelu)
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for lin in model.linears():
            nn.init.kaiming_uniform_(lin.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(lin.in_features)
            nn.init.uniform_(lin.bias, -bound, bound, generator=generator)
    return model


def to_bytes(model: nn.Module) -> bytes:
    """The model's state_dict as torch.save writes it (model.pt)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def from_bytes(data: bytes, latent_dim: int, hidden_width: int, hidden_layers: int,
               gelu: str = "exact") -> SphericalAutoencoder:
    """A model from `to_bytes`' bytes, in evaluation mode (no initial draws: the weights are the file's)."""
    with torch.device("meta"):
        model = SphericalAutoencoder(latent_dim, hidden_width, hidden_layers, gelu)
    try:
        state = torch.load(io.BytesIO(data), weights_only=True)
        model.load_state_dict(state, assign=True)
    except Exception as e:  # noqa: BLE001 - torch's own text runs to nine lines and recommends the unsafe load
        if isinstance(e, pickle.UnpicklingError):
            why = "it holds objects that a weights-only load refuses to build"
        else:
            why = first_line(e)
        raise ReproError(f"not a state_dict of this model's shape ({type(e).__name__}: {why})") from None
    return model.eval()


def parameter_count(model: nn.Module) -> int:
    """The number of parameters."""
    return sum(p.numel() for p in model.parameters())


def fingerprint(model: nn.Module) -> str:
    """SHA-256 of every parameter's float32 bytes in forward order (weight then bias per
    Linear), the fingerprint rng-replay.md gives for upstream's runs."""
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(p.detach().to(torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()
