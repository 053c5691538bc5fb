import pytest
from pydantic import ValidationError

from repro.base.errors import SpecError
from repro.store.keys import digest, training_inputs
from repro.config.spec import available, load_spec, to_toml
from tests.conftest import ROOT, SPECS

EXPERIMENTS = ROOT / "experiments"


def write(tmp_path, name, text, sheet: str | None = None):
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    for f in ("_base.toml", "ex-2.4.1.toml", "ex-2.4.1.csv"):  # what the bodies below extend
        if not (tmp_path / f).exists():
            (tmp_path / f).write_text((EXPERIMENTS / f).read_text())
    if sheet is not None:
        (tmp_path / "sheet.csv").write_text(sheet)
    return p


def test_experiments_are_listed_and_load():
    names = available()
    assert {"ex-2.4.1", "ex-2.4.1-notebook", "ex-2.9.1-width10"} <= set(names)
    assert "_base" not in names  # the shared values are not an experiment
    for n in names:
        spec = load_spec(n)
        assert spec.sheet is not None and len(spec.sheet) > 1


def test_extends_and_overrides():
    nb = load_spec("ex-2.4.1-notebook")
    assert nb.data.grid == 10 and nb.model.latent_dim == 4 and nb.seed == 0
    assert nb.interventions["repulsion"].mapper.to_angle == 70.0
    assert nb.interventions["suppression"].falloff.max_angle == 90.0  # inherited
    from repro.base.errors import IneffectiveOverride

    with pytest.warns(IneffectiveOverride):  # (one label: its affinity cancels; see the test below)
        s = load_spec("ex-2.4.1", ["regularizers.anchor.labels.red=0.5", "model.hidden_width=10"], seed=3)
    assert s.regularizers["anchor"].labels == {"red": 0.5} and s.model.hidden_width == 10 and s.seed == 3
    assert load_spec("ex-2.9.1-width10").model.hidden_width == 10


def test_every_paper_hyperparameter_comes_from_a_file():
    """The schema has no defaults for values that shape results: the shared ones live in _base."""
    from repro.config.spec import Spec

    defaults = {name for name, f in Spec.model_fields.items() if not f.is_required()}
    # schedule's default sets nothing: the dopesheet as written
    assert defaults == {"about", "figures", "schedule"} and Spec.model_fields["schedule"].default == {}
    assert load_spec("ex-2.7.1").data.batch_size == 64  # inherited from experiments/_base.toml


def test_training_key_follows_training_fields_only():
    a = load_spec("ex-2.4.1")
    key = digest(training_inputs(a))
    assert key == digest(training_inputs(load_spec("ex-2.4.1")))
    assert digest(training_inputs(load_spec("ex-2.4.1", seed=8))) != key
    assert digest(training_inputs(load_spec("ex-2.4.1", ["about.title=x"]))) == key
    assert digest(training_inputs(load_spec("ex-2.4.1", ["interventions.repulsion.mapper.to_angle=80.0"]))) == key
    assert digest(training_inputs(load_spec("ex-2.4.1", ["score.power=3.0"]))) == key
    assert digest(training_inputs(load_spec("ex-2.4.1", ["labels.red.scale=0.07"]))) != key


def test_resolved_spec_round_trips(tmp_path):
    spec = load_spec("ex-2.4.1-notebook")
    (tmp_path / "ex-2.4.1.csv").write_text((EXPERIMENTS / "ex-2.4.1.csv").read_text())
    p = tmp_path / "again.toml"
    p.write_text(to_toml(spec))
    again = load_spec(str(p))
    assert training_inputs(again) == training_inputs(spec) and again.model_dump() == spec.model_dump()


def test_non_bmp_text_round_trips(tmp_path):
    spec = load_spec("ex-2.4.1", ["about.title=red 🟥 anchored"])
    (tmp_path / "ex-2.4.1.csv").write_text((EXPERIMENTS / "ex-2.4.1.csv").read_text())
    p = tmp_path / "emoji.toml"
    p.write_text(to_toml(spec), encoding="utf-8")
    assert load_spec(str(p)).about.title == "red 🟥 anchored"


def test_unknown_experiment_lists_available():
    with pytest.raises(SpecError) as e:
        load_spec("ex-2.4.2")
    assert "Available:" in str(e.value) and "ex-2.4.1" in str(e.value)


@pytest.mark.parametrize("override, message", [
    ("model.latent_dims=5", "did you mean model.latent_dim"),
    ("model.latent_dim=four", "expected an integer"),
    ("validation.unit=minutes", "'steps' or 'epochs'"),
    ("regularizers.anchor.direction=[1, 0]", "list of 4 numbers"),
    ("regularizers.anchor.direction=[0.9, 0.0, 0.0, 0.0]", "must be a unit vector; its norm is 0.9"),
    ("regularizers.anchor.direction=[0.0, 0.0, 0.0, 0.0]", "must be a unit vector; its norm is 0"),
    ("interventions.suppression.concept=[2.0, 0.0, 0.0, 0.0]", "interventions.suppression.concept: must be a unit"),
    ("score.intervention=pruning", "not one of the interventions"),
    ("sweep.minimize=['val_subspace']", "objective 'val_subspace'"),
    ("seed", "expected dotted.key=value"),
    ("interventions.repulsion.mapper.to_angle=95", "to_angle < from_angle"),
    ("labels.red.power=-1", "labels.red.power: must be a finite number >= 0"),
    ("labels.red.scale=1.5", "labels.red.scale: must be a probability"),
    ("evaluation.loss_cube.hues=0", "evaluation.loss_cube: hues, saturations"),
    ("figures.latent_dims=[[1, 0, 7]]", "figures.latent_dims[0]"),
    ("sweep.seeds=0-99999999999999999999", "is not a seed or range"),
    ("sweep.seeds=9223372036854775806-9223372036854775809", "beyond the largest seed"),
])
def test_bad_overrides_are_clear(override, message):
    with pytest.raises(SpecError) as e:
        load_spec("ex-2.4.1", [override])
    assert message in str(e.value)


def test_seed_beyond_int64_is_an_error():
    with pytest.raises(SpecError) as e:
        load_spec("ex-2.4.1", seed=2**63)
    assert "seed: must lie in 0..2^63-1" in str(e.value)


@pytest.mark.parametrize("body, message", [
    ('extends = "_base"\nmodle = {}\n', "unknown field 'modle' (did you mean 'model'?)"),
    ('extends = "ex-2.4.1"\n[model]\nlatent_dim = 4.5\n', "model.latent_dim: expected an integer"),
    ('extends = "ex-2.4.1"\ndopesheet = 3\n', "dopesheet: expected a string"),
    ('extends = "ex-2.4.1"\n[labels.red]\nattribute = "blueness"\n', "'redness' or 'vibrancy'"),
    ('extends = "ex-2.4.1"\n[data]\nbatch_size = "64"\n', "data.batch_size: expected an integer"),
    ('extends = "nope"\n', "extends 'nope'"),
    ('dopesheet = [1\n', "not valid TOML"),
    ('extends = "ex-2.4.1"\nremove = [1]\n', "'remove' must be a list"),
    ('extends = "ex-2.4.1"\nremove = ["seed.x"]\n', "remove names 'seed.x'"),
    ('extends = "ex-2.4.1"\nremove = ["data"]\n', "data: missing required field"),
    # fields that do not belong to the kind
    ('extends = "ex-2.4.1"\n[regularizers.anchor]\ndims = [0]\n',
     "regularizers.anchor: unknown field 'dims' for kind 'anchor'"),
    ('extends = "ex-2.4.1"\n[interventions.ablation]\nconcept = [1.0, 0.0, 0.0, 0.0]\n',
     "interventions.ablation: unknown field 'concept' for kind 'ablation'"),
    ('extends = "ex-2.4.1"\n[regularizers.anchor]\nkind = "anchr"\n', "kind 'anchr' is not allowed; use one of"),
    ('extends = "ex-2.4.1"\n[interventions.sup]\nselectivity_power = 2.0\n', "missing field 'kind'"),
    ('extends = "ex-2.4.1"\n[regularizers.separate]\npower = "high"\n', "regularizers.separate.power: expected a finite"),
    # names become files, columns and LaTeX: plain identifiers only
    ('extends = "ex-2.4.1"\n[interventions."../x"]\nkind = "ablation"\ndims = [0]\nselectivity_power = 2.0\n'
     'selectivity_against = "similarity"\n', "interventions.'../x': is not a plain name"),
    ('extends = "ex-2.4.1"\n[interventions."a^^5cinput"]\nkind = "ablation"\ndims = [0]\nselectivity_power = 2.0\n'
     'selectivity_against = "similarity"\n', "is not a plain name"),
])
def test_malformed_specs_name_file_and_field(tmp_path, body, message):
    p = write(tmp_path, "bad", body)
    with pytest.raises(SpecError) as e:
        load_spec(str(p))
    assert str(p) in str(e.value)
    assert message in str(e.value)


SHEET = "STEP,PHASE,ACTION,lr,separate,anchor,subspace\n0,Train,,0.01,0.01,0.01,0.01\n100,,,0.01,,,\n"


@pytest.mark.parametrize("sheet, message", [
    # a misspelled column: upstream silently trained `anchor` at weight 1.0 on every step
    (SHEET.replace(",anchor,", ",anchr,"), "regularizers.anchor: the dopesheet sheet.csv has no column 'anchor'"),
    (SHEET.replace("subspace\n", "subspace,extra\n").replace("0.01\n", "0.01,1\n", 1).replace(",,,\n", ",,,,\n"),
     "column 'extra' is not a regulariser"),
    # no lr: upstream silently trained at 1e-8
    (SHEET.replace(",lr,", ",rate,"), "no 'lr' column"),
])
def test_schedule_and_regularisers_must_match(tmp_path, sheet, message):
    p = write(tmp_path, "bad", 'extends = "ex-2.4.1"\ndopesheet = "sheet.csv"\n', sheet)
    with pytest.raises(SpecError) as e:
        load_spec(str(p))
    assert message in str(e.value)


def test_validation_that_never_runs_is_an_error_when_objectives_need_it(tmp_path):
    p = write(tmp_path, "bad", 'extends = "ex-2.4.1"\ndopesheet = "sheet.csv"\n[validation]\nevery = 500\n', SHEET)
    with pytest.raises(SpecError) as e:
        load_spec(str(p))
    assert "validation never runs" in str(e.value)


def test_missing_dopesheet_is_named(tmp_path):
    p = write(tmp_path, "nosheet", 'extends = "ex-2.4.1"\ndopesheet = "missing.csv"\n')
    with pytest.raises(SpecError) as e:
        load_spec(str(p))
    assert "missing.csv" in str(e.value)


def test_dopesheet_outside_the_spec_folder_is_refused(tmp_path):
    p = write(tmp_path, "escape", 'extends = "ex-2.4.1"\ndopesheet = "../ex-2.4.1.csv"\n')
    with pytest.raises(SpecError) as e:
        load_spec(str(p))
    assert "must be a file beside the spec" in str(e.value)


def test_string_keys_take_bare_numbers():
    assert load_spec("ex-2.4.1", ["sweep.seeds=3"]).sweep.seeds == "3"


def test_training_key_counts_schedule_length(tmp_path):
    sheet = (EXPERIMENTS / "ex-2.4.1.csv").read_text()
    p = write(tmp_path, "long", 'extends = "ex-2.4.1"\ndopesheet = "sheet.csv"\n', sheet + "3000,,,,,,\n")
    assert len(load_spec(str(p)).sheet) == 3001
    assert digest(training_inputs(load_spec(str(p)))) != digest(training_inputs(load_spec("ex-2.4.1")))


def test_quick_spec_loads():
    assert len(load_spec(str(SPECS / "quick.toml")).sheet) == 201


def test_a_schedule_set_in_the_spec_keys_the_dopesheet_and_survives_its_toml(tmp_path):
    from repro.config.spec import to_toml

    s = load_spec("ex-2.4.1", ["schedule.anchor.750=0.5", "schedule.lr.10=0.02"])
    assert s.schedule == {"anchor": {"750": 0.5}, "lr": {"10": 0.02}}
    assert s.sheet.realize()["anchor"][750] == 0.5 and s.sheet.realize()["lr"][10] == 0.02
    assert "[schedule]" in to_toml(s) and "[schedule]" not in to_toml(load_spec("ex-2.4.1"))
    # the resolved TOML beside the original dopesheet gives the same schedule back
    (tmp_path / "again.toml").write_text(to_toml(s))
    (tmp_path / s.dopesheet).write_bytes((ROOT / "experiments" / s.dopesheet).read_bytes())
    again = load_spec(str(tmp_path / "again.toml"))
    assert again.schedule == s.schedule and again.sheet.realize() == s.sheet.realize()
    with pytest.raises(SpecError, match="not a step"):
        (tmp_path / "bad.toml").write_text(to_toml(s).replace('750 = 0.5', '"7x" = 0.5'))
        load_spec(str(tmp_path / "bad.toml"))


def test_an_override_that_cannot_change_the_model_is_warned_about():
    import warnings

    from repro.base.errors import IneffectiveOverride

    with pytest.warns(IneffectiveOverride, match="changes the model at most by rounding"):
        load_spec("ex-2.4.1", ["regularizers.anchor.labels.red=0.5"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # these do change the model: no warning
        load_spec("ex-2.4.1", ["labels.red.scale=0.16"])
        load_spec("ex-2.4.1", ["regularizers.anchor.labels.red=0"])
        load_spec("ex-2.4.1", ["schedule.anchor.750=0.5"])


def test_a_spec_written_with_a_byte_order_mark_reads(tmp_path):
    (tmp_path / "bom.toml").write_bytes("\ufeff".encode() + (SPECS / "quick.toml").read_bytes())
    (tmp_path / "quick.csv").write_bytes((SPECS / "quick.csv").read_bytes())
    assert load_spec(str(tmp_path / "bom.toml")).seed == 3


def test_folders_from_variables_expand_the_home(monkeypatch):
    from pathlib import Path

    from repro.base.paths import results_dir

    monkeypatch.setenv("REPRO_RESULTS", "~/res")
    assert results_dir() == Path.home() / "res"
    monkeypatch.setenv("REPRO_RESULTS", "")
    assert results_dir().name == "results"


def test_c1_control_characters_are_refused_in_text_and_overrides():
    from repro.config.spec import replace

    spec = load_spec("ex-2.4.1")
    with pytest.raises(SpecError, match="about.title"):
        replace(spec, ['about.title="a\u009bb"'])  # U+009B, CSI: it clears terminals and breaks TeX
    with pytest.raises(SpecError, match="control character"):
        replace(spec, ["data.grid=8\u0085"])


def test_messages_name_what_was_given(tmp_path, monkeypatch):
    with pytest.raises(SpecError, match=r"with --seed: seed: must lie"):
        load_spec("ex-2.4.1", seed=2**64)  # not "with --set" when no --set was given
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("REPRO_EXPERIMENTS", str(tmp_path / "file"))
    with pytest.raises(SpecError, match="is a file, not a folder"):
        available()


def test_specs_are_immutable_all_the_way_down():
    """A spec is checked once, when it is made: nothing inside it can change afterwards (a change
    would train an unchecked spec), yet it still pickles to workers and reads as plain data."""
    import copy
    import pickle

    spec = load_spec("ex-2.9.1")
    changes = [lambda: spec.regularizers["anchor"].labels.__setitem__("red", -5.0),
               lambda: spec.regularizers["anchor"].direction.append(0.0),
               lambda: spec.interventions["ablation"].dims.__setitem__(0, 4),
               lambda: spec.labels.pop("red"),
               lambda: spec.schedule.update({"anchor": {}}),
               lambda: spec.sweep.minimize.sort()]
    for change in changes:
        with pytest.raises(TypeError, match="immutable.*replace"):
            change()
    with pytest.raises(ValidationError):
        spec.seed = 3  # type: ignore[misc]
    for again in (pickle.loads(pickle.dumps(spec)), copy.deepcopy(spec), spec.with_seed(spec.seed)):
        assert again == spec and again.regularizers["anchor"].labels == {"red": 1.0}
        with pytest.raises(TypeError):
            again.regularizers["anchor"].labels["red"] = 0.0
    assert type(spec.model_dump()["regularizers"]["anchor"]["labels"]) is dict  # plain data out


def test_a_spec_is_changed_by_a_checked_copy():
    spec = load_spec("ex-2.4.1")
    more = spec.replace({"labels.red.scale": 0.16, "schedule.anchor.750": 0.5}, seed=3)
    assert (more.seed, more.labels["red"].scale, more.schedule) == (3, 0.16, {"anchor": {"750": 0.5}})
    assert spec.labels["red"].scale != 0.16 and spec.seed != 3 and more.name == spec.name  # the original stays
    assert spec.replace() is spec and spec.to_toml() == to_toml(spec)
    with pytest.raises(SpecError, match="labels.red.scale"):
        spec.replace({"labels.red.scale": "much"})
    with pytest.raises(SpecError, match="seed"):
        spec.replace(seed=-1)
