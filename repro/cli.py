"""The `repro` command line."""

from __future__ import annotations

import os
import signal
import sys
import warnings

import click

from repro.base.errors import IneffectiveOverride, ReproError


def _exit_now(signum=None, frame=None) -> None:
    """End the process at once with the shell's "interrupted" status (130)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _forget_the_interrupt() -> None:
    """CPython marks a KeyboardInterrupt that passed through any exec() of a string (scipy's
    import runs one) as unhandled, even once caught; run as `python -m repro.cli`, it then ends
    the process with SIGINT (status -2) whatever sys.exit asked for (measured: 5 of 6 Ctrl-Cs
    during that import). The mark is reset by the next exec() of a string."""
    exec("")


class ReproGroup(click.Group):
    """Print user errors as one line (no traceback) and exit 2; Ctrl-C exits 130."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Run the CLI: usage errors as one line with exit 2, Ctrl-C during teardown as exit 130."""
        if not standalone_mode:  # a caller that handles click's exceptions itself
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0  # --help and --version return 0
        except click.exceptions.NoArgsIsHelpError as e:  # `repro` alone: the help
            e.show()
            code = e.exit_code
        except click.UsageError as e:  # a bad option or argument: one line, like every other error
            where = e.ctx.command_path if e.ctx else "repro"
            click.secho(f"error: {e.format_message().rstrip('.')} (see '{where} --help')", fg="red", err=True)
            code = 2
        except click.ClickException as e:
            click.secho(f"error: {e.format_message()}", fg="red", err=True)
            code = e.exit_code
        except click.Abort:
            click.echo("Aborted!", err=True)
            code = 1
        finally:
            # Only teardown is left (joining threads, closing clusters): a Ctrl-C now ends the
            # process at once with 130, where Python would die of SIGINT (status -2) mid-exit.
            signal.signal(signal.SIGINT, _exit_now)
        sys.exit(code)

    def invoke(self, ctx):
        """Run a subcommand: a ReproError as one line and exit 2, Ctrl-C as a note on what was kept and
        exit 130."""
        warnings.showwarning = _show_warning  # one line, like the errors
        try:
            return super().invoke(ctx)
        except ReproError as e:
            click.secho(f"error: {e}", fg="red", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, _exit_now)  # a second Ctrl-C: stop at once
            click.secho("interrupted: what finished is cached (run the same command to resume); nothing "
                        "half-written was kept", fg="yellow", err=True)
            _forget_the_interrupt()
            sys.exit(130)


SET_HELP = ("Override a spec key, e.g. labels.red.scale=0.16, or a dopesheet value at a step, e.g. "
            "schedule.anchor.750=0.5 (repeatable).")


_default_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, IneffectiveOverride):
        click.secho(f"warning: {message}", fg="yellow", err=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


def _log(message: str) -> None:
    click.echo(message, err=True)


def _writable_results() -> None:
    """Say so before any training if results cannot be written."""
    from repro.base.files import ensure_writable
    from repro.base.paths import results_dir

    ensure_writable(results_dir())


@click.group(cls=ReproGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="repro")
def main():
    """Reproduce "Sparse Concept Anchoring for Interpretable and Controllable Neural
    Representations" (Fraser & Wielopolski, 2025) from declarative experiment specs.

    \b
    repro list                      the experiments
    repro show ex-2.4.1             the resolved spec and keyframes
    repro run ex-2.4.1 --seed 7     train, intervene, evaluate one seed
    repro runs                      what the cache holds

    The same from Python: import repro; repro.run("ex-2.4.1") (examples/quickstart.ipynb).
    """


@main.command("list")
def list_cmd():
    """List the experiments (specs in experiments/)."""
    from repro.base.errors import SpecError
    from repro.config.spec import available, load_spec

    for name in available():
        try:
            click.echo(f"{name:22s} {load_spec(name).about.title}")
        except SpecError as e:  # one broken spec does not hide the others
            click.echo(f"{name:22s} (invalid: {e})")


@main.command("runs")
@click.argument("experiment", required=False)
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV (every column) instead of a table.")
def runs_cmd(experiment, as_csv):
    """List the trained models in the cache (of EXPERIMENT, or all): seed, training key, whether
    it is what the spec trains today (else what differs), best score, validation losses, date."""
    from repro.api import runs

    frame = runs(experiment)
    if as_csv:
        click.echo(frame.to_csv(index=False), nl=False)
    elif frame.empty:
        click.echo("no trained models in the cache" + (f" for {experiment}" if experiment else ""), err=True)
    else:
        shown = frame.drop(columns=["path", "loop"]).fillna("")
        shown["differs"] = shown["differs"].str.slice(0, 60)
        click.echo(shown.to_string(index=False))


@main.command()
@click.argument("experiment")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def show(experiment, overrides):
    """Print the resolved spec of EXPERIMENT and its resolved keyframes."""
    from repro.config.dopesheet import to_markdown
    from repro.store.keys import digest, training_inputs
    from repro.config.spec import load_spec, to_toml

    spec = load_spec(experiment, list(overrides))
    click.echo(f"# {spec.name}  (training key {digest(training_inputs(spec))}, from {spec.source})\n")
    click.echo(to_toml(spec))
    click.echo(f"# Dopesheet {spec.sheet.source}: {len(spec.sheet)} steps, resolved keyframes\n")
    click.echo(to_markdown(spec.sheet))


@main.command()
@click.argument("experiment")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Training seed (default: the spec's).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--force", is_flag=True, help="Retrain even if this exact result exists.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
def run(experiment, seed, overrides, force, quiet):
    """Train EXPERIMENT, apply its interventions, evaluate, and save the result.

    The trained model goes to results/EXPERIMENT/TRAINING_KEY/ and its evaluation to
    eval-EVALUATION_KEY/ inside it. The keys follow the inputs (spec fields, dopesheet, code,
    torch, CPU platform), so running the same thing again reuses the model, and changing only
    an intervention or the score re-evaluates it without retraining.
    """
    from repro import api
    from repro.config.spec import load_spec

    spec = load_spec(experiment, list(overrides), seed=seed)
    result = api.run(spec, force=force, progress=not quiet, log=_log)
    if result.reused:
        click.echo(f"reusing the cached model in {result.path.parent} (use --force to retrain)", err=True)
    from repro.report.terminal import format_run

    click.echo(format_run(dict(result.metrics)))
    click.echo(f"\nresult: {result.path}")


@main.command()
@click.argument("experiment")
@click.option("--seeds", default=None, help="Seeds, e.g. 0-59 or 0-4,10 (default: the spec's sweep.seeds).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Parallel workers (default: CPU count).")
@click.option("--executor", type=click.Choice(["inline", "local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786); default: a local cluster.")
@click.option("--chunk", "chunk_size", type=click.IntRange(min=1), default=None,
              help="Seeds trained together as one batched task (default 30): smaller is cached sooner, larger "
                   "trains faster. The models do not depend on it.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def sweep(experiment, seeds, jobs, executor, scheduler, chunk_size, overrides):
    """Train every seed of EXPERIMENT, keep the Pareto front, evaluate the most selective run.

    Each seed is cached like `repro run --seed N`; re-running an interrupted sweep resumes it.
    Writes results/EXPERIMENT/sweep-HASH/summary.json and runs.csv.
    """
    from repro import api
    from repro.config.spec import load_spec, parse_seeds

    spec = load_spec(experiment, list(overrides))
    seed_list = parse_seeds(spec.sweep.seeds if seeds is None else seeds)
    if scheduler and executor != "dask":
        raise ReproError(f"--scheduler needs --executor dask (this sweep uses {executor})")
    result = api.sweep(spec, seeds=seed_list, jobs=jobs, executor=executor, scheduler=scheduler, chunk=chunk_size,
                       log=_log)
    from repro.report.terminal import format_sweep

    click.echo(format_sweep(dict(result.summary)))
    click.echo(f"\nsweep: {result.path}")


@main.command()
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Parallel workers for sweeps.")
def paper(jobs):
    """Build the reproduction report: run what is not cached, verify, render tables and
    figures, compile paper/build/main.pdf with latexmk, and print its path. Ends with where the
    time went (also in results/paper-timings.json)."""
    from repro.report.build import build

    click.echo(build(jobs=jobs))


@main.command()
@click.argument("experiments", nargs=-1)
@click.option("--quick", is_flag=True, help="Only the selected seeds' runs: no sweep statistics, no claims.")
@click.option("--all", "show_all", is_flag=True, help="List every entry, not only those that do not pass.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Parallel workers for sweeps.")
def verify(experiments, quick, show_all, jobs):
    """Check every published number and claim in registry/ against what the code computes.

    \b
    Statuses: pass (equal at the printed precision), within noise (inside the band that
    float noise alone moves it by, measured by `repro sensitivity`), not testable (within
    noise, but the band is as wide as the value: a verdict that cannot fail, not counted
    as agreement), differs (outside both, in a float-chaotic experiment), FAIL (outside
    both otherwise), discrepancy (the paper disagrees with its own code). A claim about
    "all 60 runs" holds only on every seed. Runs (or reuses) what it needs; writes
    results/verification.json and .csv (a subset or --quick: verification-partial.*); exits 1 on
    any FAIL or on a claim that does not behave as registered.
    """
    from repro import api
    from repro.report.terminal import format_claims, format_counts, format_criteria, format_models, format_table

    result = api.verify(list(experiments) or None, quick=quick, jobs=jobs, log=_log)
    report, path = dict(result.report), result.path
    entries = report["entries"]
    if entries:
        click.echo(format_table(entries, only_problems=not show_all))
    if report.get("experiments"):
        from repro.base.machine import current_platform

        click.echo(f"\nModels (selected seed's SHA-256 on platform {current_platform().id}; upstream's runs: "
                   "registry/fingerprints.toml):")
        click.echo(format_models(report["experiments"]))
    if report["claims"]:
        click.echo("\nClaims (selected seed; how many of the sweep's seeds and of its Pareto front hold):")
        click.echo(format_claims(report["claims"]))
    if report.get("followup"):
        from repro.report.terminal import format_followup

        click.echo("\nThe authors' follow-up (sca2 M1) on the original model: printed statistics against the "
                   "distribution of repro's runs, then its findings:")
        click.echo(format_followup(report["followup"], show_all))
    if quick and not entries and not report["claims"]:
        click.echo("--quick checks the selected runs' numbers; these experiments have none (the follow-up's "
                   "statistics need every seed: run without --quick)")
    click.echo("\n" + format_criteria(report))
    click.echo("\n" + format_counts(report))
    click.echo(f"wrote {path}")
    if report["failed"]:
        failed = report["failed"]
        click.secho(f"FAILED: {', '.join(failed[:20])}{' ...' if len(failed) > 20 else ''}", fg="red", err=True)
        sys.exit(1)


@main.command()
@click.argument("experiments", nargs=-1)
@click.option("--sweeps/--no-sweeps", default=True, show_default=True,
              help="Also retrain whole sweeps (for the experiments whose sweeps are measured).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=2, show_default=True,
              help="Processes side by side (capped at the cores).")
def sensitivity(experiments, sweeps, jobs):
    """Measure how far float noise alone moves each result: retrain EXPERIMENTS' selected seeds
    (and, for the 5-D experiments, their sweeps) under a fixed list of kernel variants.

    \b
    Each variant sets environment variables that make MKL, oneDNN or ATen choose other kernels
    (ONEDNN_MAX_CPU_ISA, MKL_CBWR, ATEN_CPU_CAPABILITY), in a fresh process: one process per
    variant for every experiment's selected seed, one per variant and 5-D sweep (trained as one
    batch), JOBS at a time, with a line as each finishes. The results are cached; `repro verify`
    takes each published number's noise band from them.
    """
    from repro.pipeline import sensitivity as S
    from repro.config.spec import available, load_spec

    names = list(experiments) or [n for n in available() if n != "ex-2.9.1-width10"]
    for name in names:
        load_spec(name)  # a bad name or spec fails here, before anything is trained
    _writable_results()
    bands = S.run_all(names, sweeps=sweeps, jobs=jobs, log=_log)
    for name in names:
        data = bands[name, False]
        click.echo(f"{name}: {data['distinct_models']} distinct models from {len(data['variants'])} kernel choices "
                   f"({data['process_s']:.0f}s of one core)")
        for v in data["variants"]:
            env = " ".join(f"{k}={val}" for k, val in v["env"].items()) or "(default kernels)"
            click.echo(f"  {v['name']:<28} {v['run']['model_sha256'][:16]}  {env}")
        if (name, True) in bands:
            sw = bands[name, True]
            sel = [v["sweep"]["selected_seed"] for v in sw["variants"]]
            front = [v["sweep"]["pareto_count"] for v in sw["variants"]]
            click.echo(f"  sweeps: selected seeds {sel}, Pareto fronts {front} ({sw['process_s']:.0f}s of one core)")


if __name__ == "__main__":
    main()
