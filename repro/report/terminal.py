"""Plain-text summaries for the terminal: a run, a sweep, and what `repro verify` found."""

from __future__ import annotations

import functools

from collections import Counter

from repro.fidelity import judge as J
from repro.fidelity.verify import NOT_MEASURED


def _p(p: float) -> str:
    """A p-value as printed: below the smallest double the test reports 0, which is not 0."""
    return "p < 1e-300" if p < 1e-300 else f"p = {p:.3g}"


def format_run(m: dict) -> str:
    """A run's per-colour table, max errors, selectivity and labels as text."""
    ivs = [k for k in m["max_error"] if k != "baseline"]
    head = f"{'colour':<11} {'hex':<6} {'baseline':>9} " + " ".join(f"{'Δ ' + k:>12}" for k in ivs)
    lines = [f"{m['experiment']}  seed {m['seed']}  ({m['steps']} steps)", "",
             "Per-colour reconstruction error: baseline MSE, then the change (Δ) under each intervention",
             head, "-" * len(head)]
    for row in m["per_color"]:
        lines.append(f"{row['name']:<11} {row['hex']:<6} {row['baseline']:9.6f} "
                     + " ".join(f"{row[k]['delta']:+12.6f}" for k in ivs))
    lines += ["", "Max error on the loss cube: " + ", ".join(f"{k} {v:.6f}" for k, v in m["max_error"].items())]
    lines.append("Selectivity (Pearson r of error vs target^power):")
    for k, s in m["selectivity"].items():
        lines.append(f"  {k:<22} {s['similarity']}^{s['power']:g} on {s['cube']}: "
                     f"r = {s['r']:.4f}, R² = {s['r2']:.4f}, {_p(s['p'])}")
    lc = m["label_counts"]
    labels = ", ".join(f"{k} {v}" for k, v in lc.items() if k not in ("total", "total_active"))
    lines.append(f"Score (selection): {m['score']:.4f}")
    lines.append(f"Labels: {labels} of {lc['total']} samples ({lc['total_active']} while a labelled term was active)")
    if m["val_losses"]:
        lines.append("Validation: " + ", ".join(f"{k} {v:.4g}" for k, v in m["val_losses"].items()))
    t = m["timings"]
    lines.append(f"Model sha256: {m['model_sha256']}")
    lines.append(f"Timings: train {t['train_s']:.2f}s, evaluate {t['eval_s']:.2f}s")
    return "\n".join(lines)


def format_sweep(s: dict) -> str:
    """A sweep's seeds, Pareto front and selected run as text."""
    lines = [(f"{s['experiment']}: {len(s['seeds'])} seeds; Pareto front of {len(s['pareto_seeds'])} "
             f"(minimise {', '.join(s['objectives']['minimize'])}; maximise {', '.join(s['objectives']['maximize'])})"),
             f"selected seed {s['selected_seed']}  (front by score: {', '.join(map(str, s['pareto_seeds']))})", "",
             f"{'metric':<22} {'min':>10} {'max':>10} {'mean':>10} {'std':>10}"]
    for k, v in s["stats"].items():
        # significant digits: a validation loss of 4e-5 is not 0.0000
        lines.append(f"{k:<22} {v['min']:>10.4g} {v['max']:>10.4g} {v['mean']:>10.4g} {v['std']:>10.4g}")
    t = s["timings"]
    lines.append(f"\n{t['trained']} seeds trained, {t['cached']} reused, {t['total_s']:.1f}s")
    return "\n".join(lines)


def format_table(checks: list[dict], only_problems: bool = False) -> str:
    """The verdict of each published number (only the problems, when asked)."""
    head = f"{'id':<46} {'published':>12} {'reproduced':>14} {'difference':>10} {'band':>8}  status"
    lines = [head, "-" * len(head)]
    for c in checks:
        if only_problems and c["status"] == J.PASS:
            continue
        rep = "—" if c["reproduced"] is None else f"{c['reproduced']:.9g}"
        diff = "—" if c["difference"] is None else f"{c['difference']:+.1e}"
        band = "—" if c["band"] is None else f"±{c['band']:.0e}"
        how = " (beyond the draws)" if c.get("beyond_draws") else ""
        lines.append(f"{c['id']:<46} {c['published']:>12.9g} {rep:>14} {diff:>10} {band:>8}  {c['status']}{how}")
    return "\n".join(lines)


def format_models(experiments: dict[str, dict]) -> str:
    """Each experiment's selected model and how it compares with upstream's run on this platform."""
    lines = []
    for name, x in experiments.items():
        fp = x.get("fingerprint") or {}
        how = fp.get("status", NOT_MEASURED)
        ref = fp.get("reference")
        if ref:
            how += f" (upstream's {fp['reference_platform']} run: {ref[:12]})"
        lines.append(f"{name:<18} {(x.get('model_sha256') or '—')[:12]:<12}  {how}")
    return "\n".join(lines)


def format_claims(claims: list[dict]) -> str:
    """Each claim: its value on the selected seed, how many seeds and Pareto models it holds on, and
    the verdict (on the selected seed, or on every seed where the paper speaks of all its runs)."""
    head = f"{'claim':<58} {'experiment':<16} {'selected':>9} {'seeds':>6} {'Pareto':>7}  verdict"
    lines = [head, "-" * len(head)]
    for c in claims:
        v = "—" if c["selected_value"] is None else f"{c['selected_value']:.3g}"
        note = " (informational)" if c["informational"] else ""
        verdict = c["verdict"] if c["verdict"].startswith(c["status"]) else f"{c['status']}: {c['verdict']}"
        lines.append(f"{c['claim'][:58]:<58} {c['experiment']:<16} {v:>9} {c['seeds_holding']:>3}/{c['seeds']:<2} "
                     f"{c['pareto_holding']:>3}/{c['pareto']:<3}  {verdict}{note}")
    return "\n".join(lines)


def format_criteria(report: dict) -> str:
    """What each status means, and how many verdicts rest on the band's factor alone."""
    lines = []
    if report["checked"]:
        lines.append("Statuses of the numbers:")
        lines += [f"  {s:<13} {text}" for s, text in report["statuses"].items()]
    if report.get("claims"):
        lines.append("Statuses of the claims:")
        lines += [f"  {s:<13} {text}" for s, text in report["claim_statuses"].items()]
    if report.get("followup"):
        lines.append("Statuses of the follow-up's statistics (fixed before its runs were looked at; one correction "
                     "since, registry/followup.toml says which):")
        lines += [f"  {s:<13} {text}" for s, text in report["followup"]["criteria"].items()]
    per = {x: v["beyond_draws"] for x, v in report.get("experiments", {}).items() if v.get("beyond_draws")}
    if per:
        lines.append(f"Inside the band only through its factor {report['band_ranges']:g} (\"beyond the draws\": the published "
                     "value lies outside the range the 10 draws showed): " + ", ".join(f"{x} {n}" for x, n in per.items()))
    return "\n".join(lines)


def format_counts(report: dict) -> str:
    """The one-line summary of a verification."""
    counts = ", ".join(f"{n} {s}" for s, n in report["counts"].items())
    claims = report.get("claims", [])
    by = ", ".join(f"{n} {s}" for s, n in Counter(c["status"] for c in claims).items())
    lines = []
    if report["checked"] or claims:
        lines.append(f"checked {report['checked']} numbers: {counts}; {len(claims)} claims" + (f" ({by})" if by else ""))
    fu = report.get("followup")
    if fu:
        stats = ", ".join(f"{n} {s}" for s, n in fu["counts"].items() if n)
        port = ", ".join(f"{n} {s}" for s, n in fu.get("port_counts", {}).items() if n)
        lines.append(f"the follow-up (sca2): {sum(fu['counts'].values())} printed statistics ({stats}"
                     + (f"; with the port's deviations: {port}" if port else "") + f"); {fu['findings']} findings, "
                     f"{fu['findings_holding']} hold on the original model"
                     + (f", {fu['findings_holding_port']} with the port's deviations" if port else ""))
    return "\n".join(lines)


def _num(x, decimals: int = 3) -> str:
    return "—" if x is None else f"{x:.{decimals}f}" if abs(x) >= 10 ** -decimals or x == 0 else f"{x:.2e}"


def _statistic_value(x, digits: int, whole: bool) -> str:
    """A statistic's value: counts and facts as integers, tiny values in powers of ten."""
    return "—" if x is None else f"{x:.0f}" if whole else f"{x:.3g}" if 0 < abs(x) < 1e-3 else _num(x, digits)


def format_followup(followup: dict, show_all: bool = False) -> str:
    """The follow-up's printed statistics against repro's runs (those that differ or are faults,
    or all), then its findings on repro's statistics and on the report's own numbers."""
    head = (f"{'statistic':<58} {'printed':>9} {'n':>4} {'here':>9} {'runs':>5} {'95% range at n':>19}  "
            f"{'status':<11} with the port's deviations")
    lines = [head, "-" * len(head)]
    quiet = ("consistent", "matches", "sca2 only")
    for r in followup["statistics"]:
        port = r.get("port") or {}
        if r["published"] is None or (not show_all and r["status"] in quiet and port.get("status", "consistent") in quiet):
            continue
        d = r["decimals"]
        whole = r["statistic"] in ("count", "exact", "seed")
        shown = functools.partial(_statistic_value, whole=whole)
        rng = "" if r["prediction"] is None else f"[{shown(r['prediction'][0], d + 1)}, {shown(r['prediction'][1], d + 1)}]"
        if r["p"] is not None:
            rng = f"Fisher p {r['p']:.2g}"
        there = f"{port['status']} ({shown(port['reproduced'], d + 1)})" if port else "—"
        lines.append(f"{r['id'].removeprefix('sca2.')[:58]:<58} {shown(r['published'], d):>9} {r['n_published'] or '':>4} "
                     f"{shown(r['reproduced'], d + 1):>9} {r['runs']:>5} {rng:>19}  {r['status']:<11} {there}")
    if len(lines) == 2:
        lines.append("(every printed statistic is consistent with repro's runs or matches; --all lists them)")
    lines.append("")
    head = f"{'finding':<76} {'here (support)':<21} {'port deviations':<21} on its printed values"
    lines += [head, "-" * len(head)]
    words = {True: "holds", False: "does not hold", None: "—"}

    def with_support(holds, support) -> str:
        return words[holds] + ("" if support is None else f" ({support:.2f})")

    for f in followup["finding_results"]:
        printed = {**words, None: "(not all printed)"}[f["holds_as_printed"]]
        claim = f["claim"] if len(f["claim"]) <= 62 else f["claim"][:61] + "…"
        lines.append(f"{f['id'].removeprefix('sca2.'):<13} {claim:<62} {with_support(f['holds'], f.get('support')):<21} "
                     f"{with_support(f.get('holds_port'), f.get('support_port')):<21} {printed}")
    diverged = followup.get("diverged") or {}
    for x, seeds in diverged.items():
        lines.append(f"{x}: seeds {', '.join(map(str, seeds))} diverged and are in no statistic")
    if followup.get("notes"):
        lines += ["", followup["notes"]]
    return "\n".join(lines)
