"""repro: reproduce "Sparse Concept Anchoring for Interpretable and Controllable Neural
Representations" (Fraser & Wielopolski) from declarative experiment specs.

The command line is `repro` (or `python -m repro`); the same from Python (repro.api):

    repro.experiments()   repro.spec(name, seed=..., overrides={...})   repro.run(...) -> Run
    repro.sweep(...) -> Sweep   repro.verify(...) -> Verification   repro.load(path)   repro.runs()

The package is layered in the pipeline's order (base, method, config, engine, store, pipeline,
fidelity, report, api; see the README). This module imports none of them until a name is used,
so `import repro` stays instant.
"""

__version__ = "0.1.0"
__all__ = ["__version__", "experiments", "spec", "run", "load", "runs", "sweep", "verify", "Run", "Sweep",
           "Selectivity", "Verification"]


def __getattr__(name: str):  # the names of repro.api, imported on first use
    if name in __all__:
        from repro import api

        return getattr(api, name)
    raise AttributeError(f"module 'repro' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
