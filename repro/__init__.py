"""repro: reproduce "Sparse Concept Anchoring for Interpretable and Controllable Neural
Representations" (Fraser & Wielopolski) from declarative experiment specs.

The command line is `repro` (or `python -m repro`). The package is layered in the pipeline's
order (base, method, config, engine, store, pipeline, fidelity, report; see the README); this
module imports none of them, so `import repro` stays instant.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
