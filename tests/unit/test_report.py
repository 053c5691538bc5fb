"""The report's pieces without TeX: escaping and number formats, status styles, the layout and
the verification reader, figure file names and LaTeX's error lines."""

import pytest

from repro.report.build import latex_errors
from repro.report.collect import Verification, read_layout
from repro.report.figures import stem
from repro.report.latex import like, number, printed, render, sig, tex
from repro.report.tables import STATUS_STYLE, UNKNOWN_STATUS, style


def test_tex_escapes_specials_double_hyphens_and_unicode():
    assert tex("ex_2 & 50% #1 $x$ {a} ~^\\") == (r"ex\_2 \& 50\% \#1 \$x\$ \{a\} \textasciitilde{}"
                                                 r"\textasciicircum{}\textbackslash{}")
    assert tex("--set") == "-{}-set"  # two hyphens, not an en dash
    assert tex("ex-2.4.1") == "ex-2.4.1"  # file names stay file names
    assert tex("108 ≈ 0.11") == r"108 $\approx$ 0.11"
    assert tex("\u2603") == "[U+2603]"  # never a character pdfLaTeX cannot typeset
    assert tex("R^2 = 0.95 +- 0.02") == r"R\textsuperscript{2} = 0.95 ± 0.02"


def test_numbers_keep_three_significant_figures_and_signs():
    assert sig(0.2835654) == "0.284"
    assert sig(0.2835654, signed=True) == "$+$0.284"
    assert sig(-5.6821e-5) == r"$-$5.68${\times}10^{-5}$"
    assert sig(0.0458, signed=True) == "$+$0.0458"
    assert sig(0.0) == "0" and sig(None) == "--"
    assert number(96064.0) == "96064" and number(82.2167) == "82.2"
    assert like(0.95153, 4) == "0.9515" and like(4.3e-5, 4) == r"4.30${\times}10^{-5}$"
    assert printed(96064.0, 4) == "96064" and printed(0.0000, 4) == "0.0000" and printed(-0.5, 2) == "$-$0.50"


def test_status_styles_are_a_small_map_and_unknown_statuses_show():
    assert style("pass") == r"\stpass" and style("differs") == r"\stdiffers"
    assert style("a status nobody has invented yet") == UNKNOWN_STATUS == style(None)
    assert set(STATUS_STYLE) >= {"pass", "within noise", "differs", "FAIL", "discrepancy"}


def test_verification_reader_takes_the_report_format():
    report = {"entries": [
        {"id": "a.red.baseline", "experiment": "ex", "source": "paper", "published": 1.0, "reproduced": 1.1,
         "difference": 0.1, "band": None, "status": "within noise", "reason": "float noise"},
        {"id": "b", "experiment": "ex", "source": "notebook", "published": 2.0, "reproduced": 2.0,
         "difference": 0.0, "status": "pass", "reason": ""}],
        "experiments": {"ex": {"model_sha256": "abc"}}}
    v = Verification.from_json(report)
    assert v.status("a.red.baseline") == "within noise" and v.status("missing") is None
    assert v.counts() == {"within noise": 1, "pass": 1} and v.models == {"ex": "abc"}
    assert v.by_id["a.red.baseline"].note == "float noise"


def test_verification_listing_groups_by_source_with_subtotals():
    from repro.report.tables import verification_listing

    v = Verification.from_json({"entries": [
        {"id": f"paper.t.{c}.baseline", "experiment": "ex-1", "source": "paper Table 9", "published": 0.5,
         "reproduced": r, "difference": r - 0.5, "status": s, "decimals": 1, "band": 0.1, "draws": d,
         "beyond_draws": b, "reason": "", "note": ""}
        for c, s, r, d, b in (("red", "pass", 0.5, None, False), ("cyan", "FAIL", 0.9, None, False),
                              ("lime", "within noise", 0.55, [0.54, 0.56], False),
                              ("teal", "within noise", 0.56, [0.555, 0.57], True),
                              ("blue", "not testable", 0.1, [0.1, 0.4], False))]
        + [{"id": "nb.score", "experiment": "ex-1", "source": "ex-1 notebook_cell", "published": 0.9,
            "reproduced": 0.8, "difference": -0.1, "status": "differs"},
           {"id": "disc.x", "experiment": "ex-1", "source": "paper §1", "published": 0.25, "reproduced": 0.284,
            "difference": 0.034, "status": "discrepancy", "reason": "r", "note": "The paper calls it a bound."}]})
    text = verification_listing(v, ["ex-1"])
    assert text.index("Paper: ex-1") < text.index("Notebooks: ex-1")
    assert "checked: 2 within noise, 1 pass, 1 FAIL, 1 not testable, 1 discrepancy; 1 beyond the draws" in text
    assert "1 checked: 1 differs" in text
    assert r"\texttt{paper.\allowbreak{}t.\allowbreak{}}" in text  # the ids' shared prefix, once, breakable
    # only what needs a look has a row: not a pass, nor a value within noise that the draws reached
    for shown in ("cyan", "teal"):
        assert rf"\texttt{{{shown}.\allowbreak{{}}baseline}}" in text
    assert "red.\\allowbreak{}baseline" not in text and "lime.\\allowbreak{}baseline" not in text
    assert r"\stnoise{0.560} & $+$0.060 & $\pm$0.10 & within noise, beyond" in text
    assert "blue.\\allowbreak{}baseline" not in text and r"\stfail{0.900}" in text  # untestable: counted
    assert r"ex-1 notebook\_cell" in text
    assert " & 0.5 & " in text  # published at the decimals it was printed with
    assert "The paper calls it a bound." in text  # a discrepancy's evidence is printed
    assert "only failures are listed" not in text
    # an experiment the report has no section for (an earlier run) lists only its failures
    earlier = Verification.from_json({"entries": [
        {"id": f"h.{s}", "experiment": "ex-old", "source": "old notebook", "published": 0.5, "reproduced": 0.9,
         "difference": 0.4, "status": s, "reason": "", "note": ""} for s in ("differs", "FAIL")]})
    text = verification_listing(earlier, ["ex-1"])
    assert r"\stfail{0.900} & $+$0.40 & -- & FAIL" in text and "& differs" not in text
    assert "only failures are listed" in text


def test_paper_table_template_escapes_and_styles_cells():
    text = render("paper_table.tex.j2", id="t_1", caption="C", groups=[{"title": "A_b (ex-1)", "span": 1}],
                  headers=[{"name": "Subspace suppression", "delta": True}],
                  rows=[{"name": "light gray", "hex": "BFBFBF", "cells": [
                      {"value": 0.0123, "published": 0.0121, "signed": True, "style": r"\stdiffers"}]}])
    assert r"\label{tab:t\_1}" in text and r"A\_b (ex-1)" in text and r"$\Delta$\,Subspace suppression" in text
    assert r"Light gray & \swatch{BFBFBF} & \stdiffers{$+$0.0123}" in text and r"\pub{$+$0.0121}" in text


def test_figure_stems_are_safe_file_names():
    assert stem("ex-2.7.1", "results", "subspace_suppression") == "ex-2.7.1-results-subspace-suppression"
    with pytest.raises(ValueError):
        stem("ex 1", "a&b")


def test_the_layout_names_registry_tables_in_the_papers_column_order():
    layout = read_layout()
    t1 = next(t for t in layout.tables if t.id == "table1")
    assert [p.columns for p in t1.parts] == [["baseline", "suppression.delta", "ablation.delta"],
                                            ["suppression.delta", "ablation.delta"]]
    assert t1.rows == ["red", "lime", "cyan", "purple", "black", "gray", "white"]


def test_latex_errors_name_file_and_line(tmp_path):
    log = tmp_path / "main.log"
    log.write_text("This is pdfTeX\n./tables/table1.tex:12: Undefined control sequence.\nl.12 \\bogus\n")
    assert latex_errors(log).startswith("./tables/table1.tex:12: Undefined control sequence.")


def test_terminal_text_keeps_small_numbers_visible():
    from repro.report.terminal import _p, format_sweep

    assert _p(0.0) == "p < 1e-300" and _p(0.0123) == "p = 0.0123"
    s = {"experiment": "x", "seeds": [0, 1], "pareto_seeds": [1], "selected_seed": 1,
         "objectives": {"minimize": ["val_recon"], "maximize": ["score"]},
         "stats": {"val_recon": {"min": 4.1e-05, "max": 5.2e-05, "mean": 4.6e-05, "std": 7.8e-06}},
         "timings": {"trained": 2, "cached": 0, "total_s": 1.0}}
    text = format_sweep(s)
    assert "4.1e-05" in text and "0.0000" not in text


def test_the_terminal_says_each_claims_verdict_once_and_prints_the_criteria():
    from repro.fidelity import judge as J
    from repro.fidelity import verify as V
    from repro.report.terminal import format_claims, format_counts, format_criteria

    base = {"claim": "c", "experiment": "ex-1", "selected_value": 0.5, "seeds_holding": 59, "seeds": 60,
            "pareto_holding": 3, "pareto": 4, "informational": False}
    claims = [{**base, "status": "holds", "verdict": "holds on the selected seed 7"},
              {**base, "status": "differs", "verdict": "does not hold on 59/60 seeds (the paper: 60/60)"}]
    lines = format_claims(claims).splitlines()[2:]
    assert lines[0].endswith("  holds on the selected seed 7")
    assert lines[1].endswith("  differs: does not hold on 59/60 seeds (the paper: 60/60)")
    report = {"statuses": J.CRITERIA, "claim_statuses": V.CLAIM_STATUSES, "band_ranges": 3.0, "checked": 3,
              "counts": {"pass": 1, "within noise": 1, "not testable": 1}, "claims": claims,
              "experiments": {"ex-1": {"beyond_draws": 1}, "ex-2": {"beyond_draws": 0}}}
    text = format_criteria(report)
    assert all(f"  {s:<13} " in text for s in J.STATUSES) and "ex-1 1" in text and "ex-2" not in text
    assert format_counts(report) == ("checked 3 numbers: 1 pass, 1 within noise, 1 not testable; "
                                     "2 claims (1 holds, 1 differs)")


def test_upstreams_earlier_runs_get_a_section_with_their_counts_and_largest_differences():
    from repro.report.front import earlier_runs

    def entry(i, status, published, reproduced, band):
        return {"id": i, "experiment": "ex-2.9.1-c58da07", "status": status, "published": published,
                "reproduced": reproduced, "difference": reproduced - published, "band": band}

    report = {"experiments": {"ex-2.9.1": {}, "ex-2.9.1-c58da07": {
        "statuses": {"pass": 1, "within noise": 2}, "beyond_draws": 1, "chaotic": True,
        "fingerprint": {"status": "no upstream reference on this platform"}}},
        "entries": [entry("h.a", "pass", 0.5, 0.5, 0.1), entry("h.b", "within noise", 0.43, 0.315, 0.2),
                    entry("h.c", "within noise", 0.1, 0.11, 0.001)]}
    text = earlier_runs(report, {"ex-2.9.1": None})
    assert r"\section{Upstream's earlier runs}" in text and "ex-2.9.1-c58da07" in text
    assert r"texttt{ex-2.9.1}" not in text  # an experiment with a section of its own is not repeated
    assert "c58da07 & 3 & 1 & 2 & 1 & 0" in text
    # largest first: h.b is 0.115 off, h.c 0.01; a pass is not listed
    assert text.index("h.\\allowbreak{}b") < text.index("h.\\allowbreak{}c") and "h.\\allowbreak{}a}" not in text
    assert earlier_runs({"experiments": {"ex-2.9.1": {}}}, {"ex-2.9.1": None}).strip().startswith("%")


def test_a_binary_report_layout_is_one_line(tmp_path):
    from repro.base.errors import ReproError
    from repro.report.collect import read_layout

    (tmp_path / "report.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ReproError, match="report layout is not UTF-8 text"):
        read_layout(tmp_path / "report.toml")


def test_text_for_tex_cannot_open_an_optional_argument_or_carry_c1_controls():
    from repro.report.latex import tex

    assert tex("[a claim]") == "{[}a claim]"  # after a row's \\ a bare [ would be its optional argument
    assert tex("a\u009bb") == "a[U+009B]b"  # C1 controls are shown, never passed to TeX
