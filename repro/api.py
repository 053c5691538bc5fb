"""The Python API: what the command line does, with typed results for notebooks and scripts.

    import repro
    repro.experiments()                                  # ['ex-2.10.1', 'ex-2.4.1', ...]
    s = repro.spec("ex-2.4.1", seed=3, overrides={"labels.red.scale": 0.07})
    r = repro.run(s)                                     # trains, or reuses the cached model
    r.per_color                                          # DataFrame: colour, hex, baseline, deltas
    r.selectivity["suppression"].r2
    sw = repro.sweep("ex-2.4.1", seeds=range(4))         # sw.runs, sw.pareto, sw.selected
    v = repro.verify(["ex-2.4.1"], quick=True)           # v.numbers, v.claims, v.counts
    repro.load(r.path)                                   # reopen any stored result

Results come from, and go to, the same cache as the CLI's (the same keys, the same bytes): a
run made here is reused by `repro run` and the other way round. Bad input is one ReproError
whose message names the field and what is allowed.
"""

from __future__ import annotations

import html
import json
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from repro.base.errors import ReproError
from repro.base.progress import Log
from repro.base.files import ensure_writable
from repro.base.paths import results_dir
from repro.config.spec import Spec, available, load_spec, override_text
from repro.store import layout
from repro.store import results as R

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pandas.io.formats.style import Styler

    from repro.method.model import SphericalAutoencoder

__all__ = ["experiments", "spec", "run", "load", "runs", "sweep", "verify", "Run", "Sweep", "Selectivity",
           "Verification"]


def experiments() -> list[str]:
    """The experiments there are specs for (experiments/, or REPRO_EXPERIMENTS)."""
    return available()


def _print(message: str) -> None:
    print(message, flush=True)


def spec(name: str, *, seed: int | None = None, overrides: Mapping[str, Any] | None = None) -> Spec:
    """An experiment's spec, resolved and checked whole: `name` is an experiment or a spec file;
    `overrides` maps dotted fields to values, e.g. {"labels.red.scale": 0.07}, as `--set` does."""
    if not isinstance(name, str):
        raise ReproError(f"spec: the experiment must be a name or a path, not {type(name).__name__}")
    items = [f"{k}={override_text(k, v)}" for k, v in (overrides or {}).items()]
    return load_spec(name, items, seed=seed)


def _spec_of(experiment: str | Spec, seed: int | None, overrides: Mapping[str, Any] | None) -> Spec:
    if isinstance(experiment, Spec):
        if overrides:
            raise ReproError("overrides: give them to repro.spec(...), not with a spec that is already made")
        return experiment if seed is None else experiment.with_seed(seed)  # with_seed checks the seed
    return spec(experiment, seed=seed, overrides=overrides)


def run(experiment: str | Spec, *, seed: int | None = None, overrides: Mapping[str, Any] | None = None,
        force: bool = False, progress: bool = True, log: Log | None = None) -> Run:
    """Train (or reuse the cached model), score and evaluate one seed; `repro run` is this.
    `log`: where to say what was reused or recomputed, and why (default: nowhere)."""
    from repro.base.display import ProgressLine
    from repro.pipeline.runner import run_one

    s = _spec_of(experiment, seed, overrides)
    ensure_writable(results_dir())  # said before any training, not after it
    with ProgressLine(f"{s.name} seed {s.seed}", enabled=progress) as bar:
        path, metrics, reused = run_one(s, force=force, progress=bar, log=log)
    return Run(path, MappingProxyType(metrics), reused)


def load(path: str | Path) -> Run | Sweep:
    """A stored result: an evaluation folder (or its metrics.json), a trained model's folder
    that holds one evaluation, or a sweep's folder (or its summary.json)."""
    p = Path(path)
    if p.name in (layout.METRICS, layout.SUMMARY):
        p = p.parent
    if (p / layout.SUMMARY).is_file():
        return Sweep(p, MappingProxyType(_read_json(p / layout.SUMMARY)))
    if (p / layout.TRAINING).is_file():
        evals = sorted(e for e in p.glob(layout.EVALUATION_GLOB) if (e / layout.METRICS).is_file())
        if len(evals) != 1:
            raise ReproError(f"{p}: holds {len(evals)} evaluations; give one of its eval-* folders")
        p = evals[0]
    if not (p / layout.METRICS).is_file():
        raise ReproError(f"{p}: not a result (no {layout.METRICS} or {layout.SUMMARY})")
    return Run(p, MappingProxyType(R.read_metrics(p)))


def runs(experiment: str | None = None) -> pd.DataFrame:
    """Every trained model in the cache (of one experiment, or all): a row each with its
    experiment, seed, training key, whether it is what the spec trains today (and if not, what
    differs), its best score and last validation losses, how it was trained, and when."""
    import datetime

    import pandas as pd

    from repro.store import keys

    names = [experiment] if experiment is not None else sorted(
        p.name for p in results_dir().iterdir() if p.is_dir()) if results_dir().is_dir() else []
    rows = []
    for name in names:
        try:
            base = load_spec(name)
        except ReproError:
            base = None  # an experiment whose spec is gone or broken: its models are still listed
        for f in layout.trained_models(name):
            try:
                record = R.read_training_record(f.parent)
            except ReproError:
                continue  # unfinished or damaged: not a result
            seed = record.get("seed")
            if base is None or not isinstance(seed, int):
                differs = "no spec of this name"
            else:
                changed = keys.what_changed(record.get("inputs") or {}, keys.training_inputs(base.with_seed(seed)))
                differs = ", ".join(changed)
            scores = [json.loads(sf.read_text()).get("score") for sf in f.parent.glob(layout.SCORE_GLOB)]
            scores = [x for x in scores if isinstance(x, (int, float))]
            rows.append({"experiment": name, "seed": seed, "training_key": record.get("training_key"),
                         "current": base is not None and not differs, "differs": differs,
                         "score": max(scores) if scores else None, **{k: v for k, v in record.get("val_losses", {}).items()},
                         "loop": record.get("loop"), "diverged": bool(record.get("diverged")),
                         "date": datetime.datetime.fromtimestamp(f.stat().st_mtime).isoformat(timespec="seconds"),
                         "path": str(f.parent)})
    columns = ["experiment", "seed", "training_key", "current", "differs", "score"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[*columns, "loop", "diverged", "date", "path"])
    rest = [c for c in frame.columns if c not in columns]
    return frame[[*columns, *rest]].sort_values(["experiment", "seed", "date"], ignore_index=True)


def _check_jobs(jobs: int | None) -> None:
    if jobs is not None and (not isinstance(jobs, numbers.Integral) or isinstance(jobs, bool) or jobs < 1):
        raise ReproError(f"jobs: a number of worker processes >= 1 (or None for one per core), got {jobs!r}")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ReproError(f"{path}: cannot be read as JSON ({e})") from None
    if not isinstance(data, dict):
        raise ReproError(f"{path}: not a result record")
    return data


def sweep(experiment: str | Spec, *, seeds: Iterable[int] | None = None, overrides: Mapping[str, Any] | None = None,
          jobs: int | None = None, executor: str = "local", scheduler: str | None = None, chunk: int | None = None,
          progress: bool = True, log: Log | None = None) -> Sweep:
    """Train every seed (batched, on `jobs` workers; cached ones are reused), keep the Pareto
    front and evaluate the selected seed; `repro sweep` is this. `seeds`: the spec's when None.
    `executor`: "local" (processes), "inline" (this process) or "dask" (`scheduler`: a Dask
    scheduler's address; default a local cluster). `chunk`: seeds trained together (default 30;
    the models do not depend on it). `log`: messages (default: printed when `progress`). With
    executor="local", a script must call this under `if __name__ == "__main__":` (the workers
    are spawned and import the script)."""
    from repro.pipeline.executors import running
    from repro.pipeline.sweep import CHUNK, run_sweep

    s = _spec_of(experiment, None, overrides)
    _check_jobs(jobs)
    if chunk is not None and (not isinstance(chunk, numbers.Integral) or isinstance(chunk, bool) or chunk < 1):
        raise ReproError(f"chunk: a number of seeds >= 1 (or None for {CHUNK}), got {chunk!r}")
    if scheduler and executor != "dask":
        raise ReproError(f"scheduler: needs executor='dask' (this sweep uses {executor!r})")
    chosen = None
    if seeds is not None:
        if not isinstance(seeds, Iterable) or isinstance(seeds, (str, bytes)):
            raise ReproError(f"seeds: a list or range of seeds, got {seeds!r}")
        given = list(seeds)
        if any(not isinstance(x, numbers.Integral) or isinstance(x, bool) or x < 0 for x in given):
            raise ReproError(f"seeds: every seed must be an integer >= 0, got {given[:10]}")
        chosen = sorted({int(x) for x in given})
        if not chosen:
            raise ReproError("seeds: give at least one seed (None means the spec's sweep seeds)")
    from repro.base.display import ProgressLine

    ensure_writable(results_dir())
    if log is None and progress:
        log = _print
    with running(executor, jobs, scheduler, log=log) as ex:
        with ProgressLine(f"{s.name} sweep", enabled=progress, unit="seeds trained") as bar:
            path, summary = run_sweep(s, chosen, executor=ex, progress=bar, log=log, chunk_size=chunk or CHUNK)
    return Sweep(path, MappingProxyType(summary))


def verify(experiments: Iterable[str] | None = None, *, quick: bool = False, jobs: int | None = None,
           progress: bool = True, log: Log | None = None) -> Verification:
    """Check the published numbers and claims (of some experiments, or all) and write the report;
    `repro verify` is this. `quick`: the selected runs only (and their noise bands), without sweep
    statistics or claims. `log`: messages (default: printed when `progress`)."""
    from repro.fidelity import verify as V
    from repro.fidelity.registry import load_registry
    from repro.pipeline.workspace import Workspace

    _check_jobs(jobs)
    names = list(experiments) if experiments is not None else None
    if names is not None and not names:
        raise ReproError("experiments: give at least one (None means all)")
    registry = load_registry()
    registry.check_known(names or [])
    ensure_writable(results_dir())
    if log is None and progress:
        log = _print
    report = V.verify(registry, Workspace(log=log, jobs=jobs), names, quick=quick)
    return Verification(V.write_report(report, results_dir()), MappingProxyType(report))


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Selectivity:
    """How selectively an intervention removed the concept: the Pearson correlation of each
    colour's error with its similarity to the concept (raised to `power`), over `cube`."""

    r: float
    r2: float
    p: float
    power: float
    similarity: str
    cube: str


def _light(hex_: str) -> bool:
    """Whether dark text reads on this colour (its luma is over half)."""
    r, g, b = (int(hex_[i:i + 2], 16) for i in (0, 2, 4))
    return 0.299 * r + 0.587 * g + 0.114 * b > 127.5


def _swatch(hex_: str) -> str:
    return f'<span style="display:inline-block;width:1.2em;height:1.2em;background:#{html.escape(hex_)}"></span>'


@dataclass(frozen=True, repr=False)
class Run:
    """One seed's result: its evaluation folder and metrics.json (read-only), with typed views;
    `reused` (from repro.run only; False for repro.load): whether run() found the model in the
    cache rather than training it."""

    path: Path
    metrics: Mapping[str, Any]
    reused: bool = field(default=False, compare=False)

    @property
    def experiment(self) -> str:
        """The experiment's name."""
        return self.metrics["experiment"]

    @property
    def seed(self) -> int:
        """The seed."""
        return self.metrics["seed"]

    @property
    def score(self) -> float:
        """The selection score (the sweep's objective)."""
        return self.metrics["score"]

    @property
    def interventions(self) -> list[str]:
        """The interventions evaluated, in spec order."""
        return [k for k in self.metrics["max_error"] if k != "baseline"]

    @property
    def max_error(self) -> dict[str, float]:
        """The largest reconstruction error on the loss cube, baseline and per intervention."""
        return dict(self.metrics["max_error"])

    @property
    def selectivity(self) -> dict[str, Selectivity]:
        """Per intervention: how selectively it removed the concept."""
        return {k: Selectivity(v["r"], v["r2"], v["p"], v["power"], v["similarity"], v["cube"])
                for k, v in self.metrics["selectivity"].items()}

    @property
    def probes(self) -> pd.DataFrame | None:
        """The follow-up's measurements (specs with evaluation.probes, e.g. sca2-2.9.2-fallback): a row
        per intervention (and the baseline) with its error on the concept's colours, the others, the
        concept colour itself and the whole grid, and its score; None for other specs. The run's
        leak, anchor, reconstruction, opposite-pole colour and health are in metrics["probes"]."""
        import pandas as pd

        pr = self.metrics.get("probes")
        if pr is None:
            return None
        frame = pd.DataFrame.from_dict(pr["groups"], orient="index")
        frame.index.name = "intervention"
        return frame

    @property
    def labels(self) -> dict[str, int]:
        """Positive labels the regularisers used in training ('total': samples seen)."""
        return dict(self.metrics["label_counts"])

    @property
    def val_losses(self) -> dict[str, float]:
        """The last validation's losses."""
        return dict(self.metrics["val_losses"])

    @cached_property
    def per_color(self) -> pd.DataFrame:
        """The named colours: colour, hex, baseline error, then each intervention's change in error."""
        import pandas as pd

        rows = [{"colour": c["name"], "hex": c["hex"], "baseline": c["baseline"],
                 **{k: c[k]["delta"] for k in self.interventions}} for c in self.metrics["per_color"]]
        return pd.DataFrame(rows, columns=["colour", "hex", "baseline", *self.interventions])

    @property
    def table(self) -> Styler:
        """`per_color` as Jupyter should show it: each colour's name on a swatch of that colour,
        errors in three significant digits, changes signed (a pandas Styler; .data is the frame)."""
        frame = self.per_color

        def swatches(names: pd.Series) -> list[str]:
            return [f"background-color: #{h}; color: {'#000' if _light(h) else '#fff'}" for h in frame.loc[names.index, "hex"]]

        return (frame.style.apply(swatches, subset=["colour"])
                .format({"baseline": "{:.3g}", **{k: "{:+.3g}" for k in self.interventions}})
                .hide(axis="index"))

    @cached_property
    def latents(self) -> pd.DataFrame:
        """Where each named colour sits on the sphere: colour, then z0, z1, ..."""
        import pandas as pd

        rows = [{"colour": c["name"], **{f"z{i}": x for i, x in enumerate(c["latent"])}} for c in self.metrics["per_color"]]
        return pd.DataFrame(rows)

    @property
    def training_path(self) -> Path:
        """The trained model's folder (this evaluation's parent)."""
        return self.path.parent

    @cached_property
    def losses(self) -> np.ndarray:
        """The training loss at every step (float32)."""
        import numpy as np

        return np.load(self.training_path / layout.LOSSES)

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """What made this result: its keys, model fingerprints, the inputs the model was trained
        from and the evaluation was made from (spec fields, dopesheet, code digests, torch,
        platform), and the machine the evaluation ran on."""
        env_file = self.path / layout.ENV
        return {"training_key": self.metrics["training_key"], "evaluation_key": self.metrics["evaluation_key"],
                "model_sha256": self.metrics["model_sha256"], "init_sha256": self.metrics["init_sha256"],
                "training_inputs": R.read_training_record(self.training_path)["inputs"],
                "evaluation_inputs": self.metrics["inputs"],
                "environment": _read_json(env_file) if env_file.exists() else None}

    @cached_property
    def model(self) -> SphericalAutoencoder:
        """The trained model (checked against its training record), in evaluation mode."""
        record = R.read_training_record(self.training_path)
        return R.load_model_of(self.training_path, record)

    @cached_property
    def spec(self) -> Spec:
        """The spec this result was evaluated under (from the spec.toml beside it and its
        trained model's dopesheet.csv: overrides included)."""
        from repro.config.spec import load_stored_spec
        from repro.store import keys

        spec = load_stored_spec(self.path / layout.SPEC, self.training_path / layout.DOPESHEET, self.experiment)
        # the dopesheet.csv of a model is the file as written; a schedule override that trained it
        # is in the spec.toml of the run that trained it, which need not be this evaluation's
        trained = R.read_training_record(self.training_path)["inputs"].get("dopesheet")
        if keys.schedule(spec) != trained:
            raise ReproError(f"{self.path}: its spec.toml and the model's dopesheet.csv do not give the schedule "
                             "the model was trained with (it was trained under another spec's schedule overrides)")
        return spec

    def intervene(self, overrides: Mapping[str, Any], progress: bool = False) -> Run:
        """This run's trained model evaluated under other interventions (or score or evaluation
        settings), without retraining: e.g. {"interventions.suppression.falloff.max_angle": 60}.
        An override that would change training is refused: that is repro.run's work."""
        from repro.config.spec import replace
        from repro.store import keys

        changed = replace(self.spec, [f"{k}={override_text(k, v)}" for k, v in overrides.items()])
        if keys.training_inputs(changed) != keys.training_inputs(self.spec):
            moved = ", ".join(keys.what_changed(keys.training_inputs(self.spec), keys.training_inputs(changed)))
            raise ReproError(f"overrides: {moved} would train another model; give them to repro.run instead")
        if keys.digest(keys.training_inputs(changed)) != self.metrics["training_key"]:
            # the code, torch or platform changed since this model was trained: evaluating "the same
            # model" would mean training a new one
            raise ReproError(f"{self.path}: this model was trained by other code or on another platform than this "
                             "one; re-running would train anew: use repro.run to do that on purpose")
        key = self.metrics["training_key"]
        if self.training_path.resolve() != layout.training_dir(changed.name, key).resolve():
            raise ReproError(f"{self.path}: this result is not in the cache in use ({results_dir()}); point "
                             "REPRO_RESULTS at the folder it is in to re-evaluate it")
        return run(changed, progress=progress)

    @property
    def plot(self) -> RunPlots:
        """This run's figures, as matplotlib Figures: plot.per_color(), plot.latents(), plot.losses()."""
        return RunPlots(self)

    def __repr__(self) -> str:
        ivs = ", ".join(f"{k} r²={s.r2:.3f}" for k, s in self.selectivity.items())
        return f"Run({self.experiment} seed {self.seed}: score {self.score:.4f}; {ivs}; {self.path})"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>Δ {html.escape(k)}</th>" for k in self.interventions)
        rows = "".join(
            f"<tr><td>{_swatch(c['hex'])} {html.escape(c['name'])}</td><td>{c['baseline']:.3g}</td>"
            + "".join(f"<td>{c[k]['delta']:+.3g}</td>" for k in self.interventions) + "</tr>"
            for c in self.metrics["per_color"])
        sel = ", ".join(f"{html.escape(k)}: r² = {s.r2:.3f}" for k, s in self.selectivity.items())
        return (f"<p><b>{html.escape(self.experiment)}</b> seed {self.seed}: score {self.score:.4f}; "
                f"selectivity {sel}</p><table><tr><th>colour</th><th>baseline</th>{head}</tr>{rows}</table>")


@dataclass(frozen=True, repr=False)
class Sweep:
    """A sweep's result: its folder and summary.json (read-only), with typed views."""

    path: Path
    summary: Mapping[str, Any]

    @property
    def experiment(self) -> str:
        """The experiment's name."""
        return self.summary["experiment"]

    @property
    def seeds(self) -> list[int]:
        """The seeds swept."""
        return list(self.summary["seeds"])

    @property
    def pareto(self) -> list[int]:
        """The seeds on the Pareto front, best score first."""
        return list(self.summary["pareto_seeds"])

    @property
    def selected_seed(self) -> int:
        """The seed the sweep selected (the most selective on the front)."""
        return self.summary["selected_seed"]

    @property
    def diverged(self) -> list[int]:
        """Seeds whose training diverged (listed without scores, never selected)."""
        return list(self.summary["diverged_seeds"])

    @property
    def stats(self) -> dict[str, dict[str, float]]:
        """Mean, standard deviation and range of each metric over the seeds."""
        return {k: dict(v) for k, v in self.summary["stats"].items()}

    @cached_property
    def runs(self) -> pd.DataFrame:
        """A row per seed: score, validation losses, label counts, training seconds, fingerprint."""
        import pandas as pd

        return pd.DataFrame(list(self.summary["runs"]))

    @cached_property
    def selected(self) -> Run:
        """The selected seed's full result."""
        where = self.summary.get("selected_result")
        if not where:
            raise ReproError(f"{self.path}: the sweep did not evaluate its selected seed")
        result = load(where)
        assert isinstance(result, Run)
        return result

    def plot(self):
        """The report's sweep figure: each objective over the seeds, and the score against each
        minimised loss; the selected seed is a star, the rest of the Pareto front filled dots."""
        from repro.report import plots as FG
        from repro.report.figures import sweep_axis_names

        axes = sweep_axis_names(self.summary["objectives"]["minimize"])
        return _shown(FG.sweep(list(self.summary["runs"]), axes, set(axes) - {"score"}, self.selected_seed,
                               self.pareto))

    def __repr__(self) -> str:
        return (f"Sweep({self.experiment}: {len(self.seeds)} seeds, Pareto front of {len(self.pareto)}, "
                f"selected seed {self.selected_seed}; {self.path})")


@dataclass(frozen=True, repr=False)
class Verification:
    """What `repro verify` found: the report file and its contents (read-only), as tables."""

    path: Path
    report: Mapping[str, Any]

    @property
    def counts(self) -> dict[str, int]:
        """How many numbers had each status."""
        return dict(self.report["counts"])

    @property
    def failed(self) -> bool:
        """True if any number failed or a claim did not behave as registered."""
        return bool(self.report["failed"])

    @cached_property
    def numbers(self) -> pd.DataFrame:
        """A row per published number: id, experiment, published, reproduced, difference, band, status."""
        import pandas as pd

        return pd.DataFrame(list(self.report["entries"]))

    @cached_property
    def claims(self) -> pd.DataFrame:
        """A row per claim and experiment: the selected seed's value, how many seeds and Pareto
        seeds it holds on, and the verdict."""
        import pandas as pd

        return pd.DataFrame(list(self.report["claims"]))

    @cached_property
    def statistics(self) -> pd.DataFrame:
        """The authors' follow-up (sca2): a row per printed statistic, with ours over all our runs,
        its 95% interval, the 95% range over as many runs as they printed, the status, and the
        same with the port's deviations (empty when the follow-up was not verified)."""
        import pandas as pd

        rows = []
        for r in (self.report.get("followup") or {}).get("statistics", []):
            port = r.get("port") or {}
            rows.append({k: v for k, v in r.items() if k != "port"}
                        | {"port_reproduced": port.get("reproduced"), "port_status": port.get("status")})
        return pd.DataFrame(rows)

    @cached_property
    def findings(self) -> pd.DataFrame:
        """The authors' follow-up (sca2): a row per finding, whether it holds on the original model,
        with the port's deviations and on the reports' own printed values, and the values it reads."""
        import pandas as pd

        return pd.DataFrame(list((self.report.get("followup") or {}).get("finding_results", [])))

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        fu = self.report.get("followup")
        more = f"; {len(fu['statistics'])} follow-up statistics, {fu['findings']} findings" if fu else ""
        return (f"Verification({sum(self.counts.values())} numbers: {counts}; {len(self.report['claims'])} claims"
                f"{more}; {self.path})")


def _shown(fig):
    """A Figure that Jupyter shows when a cell returns it: it is made outside pyplot (so it
    changes no global state), where IPython's figure display would not find it."""
    import io

    def png() -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        return buf.getvalue()

    fig._repr_png_ = png
    return fig


class RunPlots:
    """A run's figures: each method returns a matplotlib Figure outside pyplot's registry (Jupyter
    shows a returned one). per_color, latents and losses draw what the run stored; results and
    error_vs_target are the report's own panels, which run the stored model over colour cubes
    (never retraining it)."""

    def __init__(self, run: Run):
        self.run = run

    def _sets(self) -> dict:
        from repro.base import machine
        from repro.engine.evaluate import intervened

        with machine.pinned():
            return intervened(self.run.spec, self.run.model)

    def _name(self, name: str, baseline: bool) -> str:
        known = ["baseline", *self.run.interventions] if baseline else self.run.interventions
        if name not in known:
            raise ReproError(f"intervention: one of {', '.join(known)}, got {name!r}")
        return name

    def results(self, intervention: str = "baseline"):
        """The report's results panel for the baseline or one intervention: the latents of the
        20^3 RGB cube, reconstructions of a hue slice, and error curves (the paper's Figs. 2-3)."""
        from repro.base import machine
        from repro.report.figures import results_panel

        name = self._name(intervention, baseline=True)
        top = max(self.run.max_error.values()) or 1.0
        with machine.pinned():
            return _shown(results_panel(self.run.spec, self._sets(), name, top))

    def error_vs_target(self, intervention: str):
        """The report's error-vs-target panel: each colour's error under `intervention` against its
        similarity to the concept (or vibrancy), with the run's R^2."""
        from repro.base import machine
        from repro.report.figures import target_panel

        name = self._name(intervention, baseline=False)
        with machine.pinned():
            return _shown(target_panel(self.run.spec, self._sets(), name, self.run.selectivity[name].r2))

    def per_color(self):
        """Each intervention's change in error for the 17 named colours, a bar per colour in its colour."""
        from repro.report.plots import figure

        r = self.run
        rows = list(r.metrics["per_color"])
        fig = figure(2.2 * max(1, len(r.interventions)), 3.2)
        axes = fig.subplots(1, max(1, len(r.interventions)), sharey=True, squeeze=False)[0]
        y = list(range(len(rows)))
        for ax, name in zip(axes, r.interventions):
            ax.barh(y, [c[name]["delta"] for c in rows], color=[f"#{c['hex']}" for c in rows], edgecolor="0.3",
                    linewidth=0.4)
            ax.axvline(0, color="0.3", linewidth=0.6)
            ax.set(title=name, xlabel="Δ error (MSE)")
        axes[0].set_yticks(y, [c["name"] for c in rows])
        axes[0].invert_yaxis()
        fig.suptitle(f"{r.experiment} seed {r.seed}: change in error per colour")
        return _shown(fig)

    def latents(self, dims: tuple[int, int] = (0, 1)):
        """Where the named colours sit on the sphere, seen along two latent dimensions."""
        import numpy as np

        from repro.report.plots import figure

        r = self.run
        rows = list(r.metrics["per_color"])
        width = len(rows[0]["latent"])
        if len(dims) != 2 or any(not 0 <= d < width for d in dims) or dims[0] == dims[1]:
            raise ReproError(f"dims: two different latent dimensions in 0..{width - 1}, got {dims}")
        fig = figure(3.6, 3.6)
        ax = fig.add_subplot()
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(np.cos(t), np.sin(t), color="0.8", linewidth=0.8)
        for c in rows:
            x, yv = c["latent"][dims[0]], c["latent"][dims[1]]
            ax.scatter([x], [yv], s=60, color=f"#{c['hex']}", edgecolors="0.3", linewidths=0.5, zorder=3)
            ax.annotate(c["name"], (x, yv), xytext=(4, 3), textcoords="offset points", fontsize=7)
        ax.set(aspect="equal", xlim=(-1.15, 1.15), ylim=(-1.15, 1.15), xlabel=f"z{dims[0]}", ylabel=f"z{dims[1]}",
               title=f"{r.experiment} seed {r.seed}: latents")
        return _shown(fig)

    def losses(self):
        """The training loss at every step (log scale)."""
        from repro.report.plots import figure

        r = self.run
        fig = figure(6.0, 2.4)
        ax = fig.add_subplot()
        ax.semilogy(r.losses, linewidth=0.8)
        ax.set(xlabel="step", ylabel="training loss", title=f"{r.experiment} seed {r.seed}")
        return _shown(fig)
