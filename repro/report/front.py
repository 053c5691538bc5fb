"""The report's first pages: what a reviewer reads first (tables/front.tex, after the abstract).

- the claims table: each claim of the paper, where it is made, what was published, what the
  selected seed gives, on how many of the 60 seeds and of the Pareto front it holds;
- the fidelity table: per experiment, the largest difference from the published tables, the
  float-noise band, the statuses, and whether the models are upstream's bit for bit here;
- the provenance box: commits, paper version, torch, CPU platform and threads, date, sweep times;
- "Where it differs and why": prose over the measured facts, and the cross-reference from each
  of the paper's tables and figures to this report.

Every number comes from results/verification.json and the collected runs; none is written here.
"""

from __future__ import annotations

import statistics

from repro.fidelity import judge as J
from repro.fidelity import upstream
from repro.fidelity import verify as V
from repro.fidelity.verify import VerificationReport
from repro.report.collect import Experiment

PAPER_VERSION = "arXiv 2512.12469, camera-ready for the ICLR 2026 GRaM workshop (OpenReview fCyFNits3s)"
UPSTREAM = "z0u/ex-preppy at a91164f (the commit the paper pins; its notebooks are unchanged to 496782f)"

# The paper's tables and figures, and where this report shows them (LaTeX references), or why not.
CROSS_REFERENCE = [
    ("Table 1", r"Table~\ref{tab:table1}", "anchored and isolated halves, published values beside ours"),
    ("Table 2", r"Table~\ref{tab:table2}", ""),
    ("Table 3", r"Table~\ref{tab:table3}", ""),
    ("Figure 1 (teaser)", "--", "not reproduced: an illustration composed by hand, with no data of its own"),
    ("Figure 2", r"Figure~\ref{fig:ex-2.4.1-results}", r"and repulsion, which the paper describes, in Figure~\ref{fig:ex-2.4.1-extras}"),
    ("Figure 3", r"Figure~\ref{fig:ex-2.9.1-results}", r"and pruning in Figure~\ref{fig:ex-2.9.1-extras}"),
    ("Figure 4 (autoencoder)", r"Figure~\ref{fig:autoencoder}", "redrawn in TikZ from our reading of the method"),
    ("Figures 5\u20136 (regularisers)", r"Figure~\ref{fig:regularisers}", "redrawn in TikZ; unitarity is the normalisation itself"),
    ("Figure 7 (schedules)", r"Figures~\ref{fig:ex-2.4.1-schedule} and~\ref{fig:ex-2.9.1-schedule}", "with the resolved keyframes"),
    ("Figure 8 (RGB cube)", r"Figure~\ref{fig:rgb-cube}", ""),
    ("Figure 9 (suppression lobes)", r"Figure~\ref{fig:suppression-lobes}", ""),
    ("Figure 10 (repulsion lobes)", r"Figure~\ref{fig:repulsion-lobes}", ""),
    ("Figure 11 (anchored sweep)", r"Figure~\ref{fig:ex-2.4.1-sweep}", "every seed over the box, the Pareto front marked"),
    ("Figure 12 (anchored scatter)", r"Figure~\ref{fig:ex-2.4.1-targets}", ""),
    ("Figure 13 (isolated sweep)", r"Figure~\ref{fig:ex-2.9.1-sweep}", ""),
    ("Figure 14 (isolated scatter)", r"Figure~\ref{fig:ex-2.9.1-targets}", ""),
    ("Figure 15 (no-vibrant)", r"Figure~\ref{fig:ex-2.5.1-results}", ""),
    ("Figure 16 (hue subspace)", r"Figure~\ref{fig:ex-2.7.1-results}", ""),
    ("App. A, D, E (related work, code, LLM use)", "--", "not reproduced: no numbers"),
]

# Where the paper's description and its code (which made its numbers) part ways; the code is what
# runs here (reference/paper.md §8; registry/numbers.toml [[discrepancy]] checks the ones that
# leave a number).
CODE_VS_PAPER = [
    ("Separation", r"the paper's $\frac{1}{B(B-1)}\sum_{i\neq j}(\hat z_i\cdot\hat z_j)^{100}$; the code shifts "
     r"the cosine to $((1+\cos)/2)^{100}$, drops pairs with $\cos\approx 1$ (duplicates too, since sampling is with "
     r"replacement) and averages over $i$ only: a weight 63 times the paper's"),
    ("Suppression", r"App.~C.1 says the main text uses $h(\alpha)=\alpha$; the code's gate is 1 for every latent "
     r"facing the concept and 0 otherwise (the hemisphere gate), which is why cyan, opposite red, keeps a "
     r"suppression $\Delta$ of exactly 0"),
    ("Repulsion", r"the paper's linear mapping is a ceiling at $b$; the code's is a ramp from $a$ to $b$"),
    ("Task loss", r"the paper writes $\|\mathbf x-\hat{\mathbf y}\|^2$; the code takes the mean over the three "
     r"channels, a third of it, which shifts its weight against the regularisers"),
    ("Label-gated terms", r"the code averages a gated term over the labelled samples of each batch only, so one red "
     r"sample in a batch gets the whole weight $\lambda$"),
    ("Steps", r"the paper says 1,500; the code runs 1,501 ($96{,}064 = 1501\times 64$ samples)"),
    ("Hidden width", r"the paper gives the isolated model hidden layers of 10 units; the notebook defines "
     r"\texttt{H = 10} but never passes it, so the published numbers come from width 16"),
]

# The measured examples the differences section cites, in words.
EXAMPLES = {
    "paper.table1.isolated.red.ablation.delta": "Red's error increase under ablation in the paper's Table 1 (isolated)",
    "291.sweep.score.min": "The lowest selection score of the ex-2.9.1 sweep",
    "291.sweep.val_recon.max": "The largest validation loss of the ex-2.9.1 sweep",
    "291.text.pareto_count": "The size of the ex-2.9.1 Pareto front (paper §3.3)",
    "2101.sweep.score.min": "The lowest selection score of the ex-2.10.1 sweep",
}

RETRAINED = (r"Every number in this report comes from retraining the models from their specifications, with the "
             r"authors' random-number streams replayed, not from the authors' checkpoints, which were not used.")


# A claim's status -> how the claims table styles its verdict (macros of paper/main.tex).
CLAIM_STYLE = {V.HOLDS: r"\stpass", J.DISCREPANCY: r"\stdisc", J.DIFFERS: r"\stdiffers"}


def _claims(report: VerificationReport) -> list[dict]:
    out = []
    for c in report.get("claims", []):
        style = CLAIM_STYLE.get(c["status"], r"\stfail" if not c["ok"] else r"\textbf")
        out.append({**c, "k": f"{c['seeds_holding']}/{c['seeds']}", "pareto_k": f"{c['pareto_holding']}/{c['pareto']}",
                    "style": style})
    return out


def _untestable(report: VerificationReport) -> list[tuple[str, list[str]]]:
    """Per experiment, the numbers whose verdict could not fail."""
    out: dict[str, list[str]] = {}
    for e in report.get("entries", []):
        if e["status"] == J.UNTESTABLE:
            out.setdefault(e["experiment"], []).append(e["id"])
    return list(out.items())


# The fingerprint verdicts of repro.fidelity.verify, short enough for a table column.
FINGERPRINT_SHORT = {V.IDENTICAL: "bit-identical", V.NO_REFERENCE: "no reference", V.DIFFERENT: "differs"}


def _fidelity(report: VerificationReport, data: dict[str, Experiment]) -> list[dict]:
    rows = []
    for name in data:
        x = report.get("experiments", {}).get(name)
        if x is None:
            continue
        band = x.get("table_band")
        st = x.get("statuses", {})
        fp = x.get("fingerprint", {}).get("status", "")
        rows.append({"name": name, "largest": x.get("largest_table_difference"), "beyond": x.get("beyond_draws", 0),
                     "band": None if band is None else [report.get("band_ranges", 3) * b for b in band],
                     "statuses": st, "chaotic": x.get("chaotic"), "fingerprint": FINGERPRINT_SHORT.get(fp, fp)})
    return rows


def _entry(report: VerificationReport, id_: str) -> dict | None:
    return next((e for e in report.get("entries", []) if e["id"] == id_), None)


def _differences(report: VerificationReport, data: dict[str, Experiment]) -> dict:
    """The measured facts the prose states."""
    xs = report.get("experiments", {})
    exact = [n for n in data if xs.get(n, {}).get("fingerprint", {}).get("status") == V.IDENTICAL]
    platform = next((x["fingerprint"].get("platform") for x in xs.values() if x.get("fingerprint")), "")
    chaotic = [n for n in data if xs.get(n, {}).get("chaotic")]
    calm = [n for n in data if n in xs and not xs[n].get("chaotic")]
    sweeps = {n: xs[n]["sweep_sensitivity"] for n in data if xs.get(n, {}).get("sweep_sensitivity")}
    examples = [{**e, "what": EXAMPLES[i]} for i in EXAMPLES if (e := _entry(report, i)) is not None]

    def median_spread(names):
        vals = [e["spread"] for e in report.get("entries", []) if e["experiment"] in names and e["kind"] == "cell"
                and e["spread"]]
        return statistics.median(vals) if vals else None

    hot, cold = median_spread(chaotic), median_spread(calm)
    width = [c for c in report.get("claims", []) if c["experiment"] == "ex-2.9.1-width10"]
    width16 = {c["id"]: c for c in report.get("claims", []) if c["experiment"] == "ex-2.9.1"}
    calm_fail = sum(xs[n].get("statuses", {}).get("FAIL", 0) for n in calm)
    return {"exact": exact, "calm_fail": calm_fail, "platform": platform,
            "reference_platforms": upstream.known_platforms(), "chaotic": chaotic, "calm": calm,
            "largest": {n: xs[n].get("largest_table_difference") for n in data if n in xs},
            "sweeps": sweeps, "examples": examples,
            "amplification": hot / cold if hot and cold else None,
            "width10": [{**c, "at16": width16.get(c["id"])} for c in width],
            "discrepancies": [e for e in report.get("entries", []) if e["status"] == "discrepancy"],
            "history": any(x not in data for x in xs)}  # upstream's earlier runs have a section


def _provenance(report: VerificationReport, data: dict[str, Experiment]) -> dict:
    env = report.get("environment", {})
    sweeps = []
    for name, e in data.items():
        if e.sweep:
            sweeps.append({"name": name, "seeds": len(e.sweep["runs"]),
                           "worker_s": sum(r.get("runtime_s", 0.0) for r in e.sweep["runs"])})
    return {"git": (env.get("git_sha") or "uncommitted")[:12], "date": report.get("date", ""),
            "torch": env.get("torch", ""), "platform": env.get("platform", ""), "cpu": env.get("cpu", ""),
            "threads": env.get("threads", ""), "deterministic": env.get("deterministic", ""),
            "paper": PAPER_VERSION, "upstream": UPSTREAM,
            "notebooks": [(n, e.spec.about.notebook) for n, e in data.items()], "sweeps": sweeps}


def front_matter(report: VerificationReport, data: dict[str, Experiment]) -> str:
    """The report's opening: what was reproduced and how it compares, from the verification report."""
    from repro.report.latex import render

    claims = _claims(report)
    return render("front.tex.j2", retrained=RETRAINED, claims=claims, fidelity=_fidelity(report, data),
                  not_holding=[c for c in claims if c["status"] != V.HOLDS], untestable=_untestable(report),
                  beyond=report.get("beyond_draws", 0), statuses=report.get("statuses", J.CRITERIA),
                  claim_statuses=report.get("claim_statuses", V.CLAIM_STATUSES),
                  provenance=_provenance(report, data), counts=report.get("counts", {}),
                  checked=report.get("checked", 0), d=_differences(report, data), cross=CROSS_REFERENCE,
                  code_vs_paper=CODE_VS_PAPER, band_ranges=report.get("band_ranges", 3))


def _largest(entries: list[dict], n: int = 3) -> list[dict]:
    """The entries furthest from their published values (every published value here is an error,
    a share or a correlation, all on the scale of 1, so absolute differences compare)."""
    judged = [e for e in entries if e["difference"] is not None and e["status"] != J.PASS]
    out: list[dict] = []
    for e in sorted(judged, key=lambda e: abs(e["difference"]), reverse=True):
        # one line per quantity: a value printed in two tables (or ablation = pruning) is said once
        if all(o["reproduced"] != e["reproduced"] for o in out):
            out.append(e)
    return out[:n]


def earlier_runs(report: VerificationReport, data: dict[str, Experiment]) -> str:
    """The section on the registry's experiments the report has no section for: upstream's earlier
    notebook versions, each with what it was, its status counts and its largest differences."""
    from repro.config.spec import load_spec
    from repro.report.latex import render

    runs = []
    for name, x in report.get("experiments", {}).items():
        if name in data:
            continue
        about = load_spec(name).about
        mine = [e for e in report.get("entries", []) if e["experiment"] == name]
        runs.append({"name": name, "title": about.title, "notebook": about.notebook, "notes": list(about.notes),
                     "statuses": x.get("statuses", {}), "beyond": x.get("beyond_draws", 0), "checked": len(mine),
                     "chaotic": x.get("chaotic"), "largest": _largest(mine),
                     "fingerprint": FINGERPRINT_SHORT.get(x.get("fingerprint", {}).get("status", ""), "")})
    return render("history.tex.j2", runs=runs, band_ranges=report.get("band_ranges", 3))


def _sig(value) -> str:
    from repro.report.latex import sig

    return sig(value, 3)


def followup(report: VerificationReport) -> str:
    """The section on the authors' follow-up (sca2): its statistics and findings against the
    distribution of repro's runs, with and without the port's deviations."""
    from repro.report.latex import printed, render

    fu = report.get("followup")
    if not fu:
        return render("followup.tex.j2", stats=[])
    stats = []
    for r in fu["statistics"]:
        if r["published"] is None:
            continue  # computed for the findings only
        d, port = r["decimals"], r.get("port") or {}
        ci = ""
        if r["statistic"] == "count":
            here = f"{r['reproduced']:.0f}/{r['runs']}" if r["reproduced"] is not None else "--"
            rng = f"$p={r['p']:.2g}$" if r["p"] is not None else ""
        elif r["statistic"] in ("exact", "seed"):
            here, rng = ("--" if r["reproduced"] is None else f"{r['reproduced']:.0f}"), ""
        else:
            here = _sig(r["reproduced"])
            ci = f"{_sig(r['interval'][0])}--{_sig(r['interval'][1])}" if r["interval"] else ""
            rng = f"{_sig(r['prediction'][0])}--{_sig(r['prediction'][1])}" if r["prediction"] else ""
        value = printed(r["published"], 0 if r["statistic"] in ("count", "exact", "seed") else d)
        if r["statistic"] not in ("count", "exact", "seed") and 0 < abs(r["published"]) < 10.0 ** -3:
            value = _sig(r["published"])
        stats.append({"id": r["id"].removeprefix("sca2."), "printed": value, "n": r["n_published"] or "",
                      "here": here, "ci": ci, "range": rng, "status": r["status"], "port": port.get("status", "--")})
    words = {True: "holds", False: "does not hold", None: "--"}
    by_id = {r["id"]: r for r in fu["statistics"]}

    def ours(f) -> str:
        """Our values of the statistics a finding reads, each with its 95% interval and runs."""
        parts = []
        for ref in list(dict.fromkeys(f["values"]))[:4]:
            r = by_id.get(ref)
            if r is None or r["reproduced"] is None:
                continue
            if r["statistic"] == "count":
                parts.append(f"{r['reproduced']:.0f}/{r['runs']}")
            else:
                ci = f" [{_sig(r['interval'][0])}, {_sig(r['interval'][1])}]" if r["interval"] else ""
                parts.append(f"{_sig(r['reproduced'])}{ci}")
        return "; ".join(parts)

    def verdict(holds, support) -> str:
        return words[holds] + ("" if support is None else f" ({support:.2f})")

    findings = [{"short": f["id"].removeprefix("sca2."), "claim": f["claim"], "published": f["published"],
                 "ours": ours(f), "here": verdict(f["holds"], f.get("support")),
                 "port": verdict(f.get("holds_port"), f.get("support_port")),
                 "printed": words[f["holds_as_printed"]] if f["holds_as_printed"] is not None else "(not all)"}
                for f in fu["finding_results"]]
    quiet = ("consistent", "matches", "sca2 only")
    shown = [s for s, r in zip(stats, (r for r in fu["statistics"] if r["published"] is not None))
             if r["status"] not in quiet or (r.get("port") or {}).get("status", "consistent") not in quiet]
    contradictions = [{"id": f["id"].removeprefix("sca2."), "contradiction": f["contradiction"]}
                      for f in fu["finding_results"] if f["contradiction"]]
    runs = max((r["runs"] for r in fu["statistics"] if r["statistic"] not in ("count",) and len(r["experiments"]) == 1
                and not r["where"]), default=0)
    return render("followup.tex.j2", stats=shown, total=len(stats), findings=findings, contradictions=contradictions,
                  counts=fu["counts"], port_counts=fu.get("port_counts", {}), holding=fu["findings_holding"],
                  holding_port=fu.get("findings_holding_port", 0), runs=runs, notes=fu.get("notes", ""),
                  diverged=fu.get("diverged") or {})
