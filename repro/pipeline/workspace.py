"""One memoising view of every experiment's results for the steps that read many of them
(verification, the report): specs, selected runs, sweeps, every seed's evaluation and the noise
bands, each computed through the cache once per process."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from repro.config.spec import load_spec
from repro.store.records import Metrics, SweepSummary

NOISE_BANDS, SEED_EVALUATIONS = "noise bands", "every seed's evaluation (claims)"


class Workspace:
    """Each experiment's results, computed (or reused from the cache) on first use and kept:
    what `repro verify` and `repro paper` read (repro.fidelity.verify.Results). `runs` and
    `sweeps` hand over results a caller already has (the report's collected runs), so that
    nothing is run twice."""

    def __init__(self, log: Callable[[str], None] | None = None, jobs: int | None = None, bands: bool = True,
                 sweep_bands: bool = True, runs: Mapping[str, Metrics] | None = None,
                 sweeps: Mapping[str, SweepSummary] | None = None):
        self.log, self.jobs, self.bands, self.sweep_bands = log, jobs, bands, sweep_bands
        self._cache: dict = {("run", x): m for x, m in (runs or {}).items()}
        self._cache.update({("sweep", x): m for x, m in (sweeps or {}).items()})
        self.seconds: dict[str, float] = {}  # time spent computing noise bands and per-seed evaluations

    def _timed(self, what: str, fn):
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - t0

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def spec(self, experiment: str):
        """The experiment's spec."""
        return self._get(("spec", experiment), lambda: load_spec(experiment))

    def run(self, experiment: str) -> Metrics:
        """The selected seed's metrics (run or reused)."""
        from repro.base.display import ProgressLine
        from repro.pipeline.runner import run_one

        def make():
            spec = self.spec(experiment)
            with ProgressLine(f"{experiment} seed {spec.seed}", enabled=self.log is not None) as line:
                return run_one(spec, progress=line, log=self.log)[1]

        return self._get(("run", experiment), make)

    def sweep(self, experiment: str) -> SweepSummary:
        """The sweep's summary (run on local workers, or reused)."""
        return self._get(("sweep", experiment), lambda: self._sweep(experiment))

    def _sweep(self, experiment: str) -> SweepSummary:
        from repro.base.display import ProgressLine
        from repro.pipeline.executors import running
        from repro.pipeline.sweep import run_sweep

        with running("local", self.jobs) as ex:
            with ProgressLine(f"{experiment} sweep", enabled=self.log is not None, unit="seeds trained") as bar:
                return run_sweep(self.spec(experiment), executor=ex, progress=bar, log=self.log)[1]

    def scope(self, experiment: str, scope: str) -> Mapping[str, Any]:
        """The result a registry path's scope names: the run, the sweep, every seed or the spec."""
        if scope == "run":
            return self.run(experiment)
        if scope == "sweep":
            return self.sweep(experiment)
        if scope == "seeds":
            return seeds_table(self.seeds(experiment))
        return self.spec(experiment).model_dump(mode="json")

    def draws(self, experiment: str, scope: str) -> list[dict] | None:
        """The same results under the default kernels and each kernel variant, or None."""
        from repro.pipeline import sensitivity as S

        if scope in ("spec", "seeds") or not self.bands:
            return None  # every seed's evaluation is measured once (its bands would take a sweep per variant)
        sweep = scope == "sweep"
        if sweep and (experiment not in S.SWEEP_EXPERIMENTS or not self.sweep_bands):
            return None

        def make():
            data = S.run_sensitivity(experiment, sweep=sweep, jobs=self.jobs or 2, log=self.log)
            return [v[scope] for v in data["variants"]]

        return self._get(("draws", experiment, scope), make)

    def prefetch_draws(self, experiments: list[str], sweeps: bool) -> None:
        """Compute every missing noise band of `experiments` in one pass (one process per kernel
        variant and kind of work, rather than per experiment)."""
        from repro.pipeline import sensitivity as S

        if not self.bands or not experiments:
            return
        done = self._timed(NOISE_BANDS, lambda: S.run_all(experiments, sweeps=sweeps and self.sweep_bands,
                                                          jobs=self.jobs or 2, log=self.log))
        for (x, sweep), data in done.items():
            scope = "sweep" if sweep else "run"
            self._cache.setdefault(("draws", x, scope), [v[scope] for v in data["variants"]])

    def sensitivity(self, experiment: str, sweep: bool) -> dict | None:
        """The stored noise band of an experiment's run or sweep, or None."""
        from repro.pipeline import sensitivity as S

        return S.cached(self.spec(experiment), sweep)

    def seeds(self, experiment: str) -> dict[int, Metrics]:
        """Every seed's full evaluation (for the claims)."""
        def make():
            from repro.pipeline.executors import running
            from repro.pipeline.sweep import evaluate_all

            summary = self.sweep(experiment)
            with running("local", self.jobs) as ex:
                return evaluate_all(self.spec(experiment), summary["seeds"], ex, self.log)

        return self._get(("seeds", experiment), lambda: self._timed(SEED_EVALUATIONS, make))


# Every seed's metrics, as the `seeds:` scope of the registry reads them (runs[seed=N].selectivity.ablation.r),
# and the statistics of their selectivities over the seeds (stats.ablation_r.mean), like a sweep's.
SEED_QUANTITIES = ("r", "r2", "p")


def seeds_table(per_seed: Mapping[int, Metrics]) -> dict:
    """`seeds:` scope: every seed's metrics as rows, and the statistics of each intervention's
    selectivity (r, r2, p) over the seeds (sample std, like the sweep's)."""
    from repro.pipeline.sweep import stats

    rows = [{**m, "seed": s} for s, m in sorted(per_seed.items())]
    flat = [{f"{iv}_{q}": v[q] for iv, v in m["selectivity"].items() for q in SEED_QUANTITIES}  # type: ignore[literal-required]
            for m in per_seed.values()]
    keys_ = sorted({k for f in flat for k in f})
    return {"runs": rows, "stats": stats(flat, keys_)}
