import pytest

from repro.errors import SpecError
from repro.spec import available, load_spec, spec_hash, to_toml
from tests.conftest import SPECS


def write(tmp_path, name, text):
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def test_experiments_are_listed_and_load():
    names = available()
    assert {"ex-2.4.1", "ex-2.4.1-notebook"} <= set(names)
    for n in names:
        spec = load_spec(n)
        assert spec.sheet is not None and len(spec.sheet) > 1


def test_extends_and_overrides():
    nb = load_spec("ex-2.4.1-notebook")
    assert nb.data.grid == 10 and nb.model.latent_dim == 4 and nb.seed == 0
    assert nb.interventions["repulsion"].mapper.to_angle == 70.0
    assert nb.interventions["suppression"].falloff.max_angle == 90.0  # inherited
    s = load_spec("ex-2.4.1", ["regularizers.anchor.labels.red=0.5", "model.hidden_width=10"], seed=3)
    assert s.regularizers["anchor"].labels == {"red": 0.5} and s.model.hidden_width == 10 and s.seed == 3


def test_hash_identifies_the_resolved_spec():
    a, b = load_spec("ex-2.4.1"), load_spec("ex-2.4.1")
    assert spec_hash(a) == spec_hash(b)
    assert spec_hash(load_spec("ex-2.4.1", seed=8)) != spec_hash(a)
    assert spec_hash(load_spec("ex-2.4.1", ["about.title=x"])) == spec_hash(a)  # presentation only


def test_resolved_spec_round_trips(tmp_path):
    spec = load_spec("ex-2.4.1-notebook")
    text = to_toml(spec).replace('name = "ex-2.4.1-notebook"\n', "")
    text = text.replace('dopesheet = "ex-2.4.1.csv"', f'dopesheet = "{(SPECS.parent.parent / "experiments" / "ex-2.4.1.csv").as_posix()}"')
    p = write(tmp_path, "again", text)
    again = load_spec(str(p))
    assert spec_hash(again) == spec_hash(spec)


def test_unknown_experiment_lists_available():
    with pytest.raises(SpecError) as e:
        load_spec("ex-2.4.2")
    assert "Available:" in str(e.value) and "ex-2.4.1" in str(e.value)


@pytest.mark.parametrize("override, message", [
    ("model.latent_dims=5", "did you mean model.latent_dim"),
    ("model.latent_dim=four", "expected an integer"),
    ("validation.unit=minutes", "'steps', 'epochs'"),
    ("regularizers.anchor.direction=[1, 0]", "list of 4 numbers"),
    ("score.intervention=pruning", "not one of the interventions"),
    ("sweep.minimize=['val_subspace']", "sweep objective"),
    ("seed", "expected dotted.key=value"),
    ("interventions.repulsion.mapper.to_angle=95", "to_angle < from_angle"),
])
def test_bad_overrides_are_clear(override, message):
    with pytest.raises(SpecError) as e:
        load_spec("ex-2.4.1", [override])
    assert message in str(e.value)


@pytest.mark.parametrize("body, message", [
    ('dopesheet = "x.csv"\nmodle = {}\n', "unknown field 'modle' (did you mean 'model'?)"),
    ('dopesheet = "x.csv"\n[model]\nlatent_dim = 4.5\n', "model.latent_dim: expected an integer"),
    ('[model]\nlatent_dim = 4\n', "missing required field(s) dopesheet"),
    ('dopesheet = "x.csv"\n[labels.red]\nattribute = "blueness"\n', "'redness', 'vibrancy'"),
    ('extends = "ex-2.4.1"\n[data]\nbatch_size = "64"\n', "data.batch_size: expected an integer"),
    ('extends = "nope"\n', "extends 'nope'"),
    ('dopesheet = [1\n', "not valid TOML"),
    ('extends = "ex-2.4.1"\nremove = [1]\n', "'remove' must be a list"),
    ('extends = "ex-2.4.1"\nremove = ["seed.x"]\n', "remove names 'seed.x'"),
])
def test_malformed_specs_name_file_and_field(tmp_path, body, message):
    p = write(tmp_path, "bad", body)
    with pytest.raises(SpecError) as e:
        load_spec(str(p))
    assert str(p) in str(e.value)
    assert message in str(e.value)


def test_missing_dopesheet_is_named(tmp_path):
    p = write(tmp_path, "nosheet", 'extends = "ex-2.4.1"\ndopesheet = "missing.csv"\n')
    with pytest.raises(SpecError) as e:
        load_spec(str(p))
    assert "missing.csv" in str(e.value)


def test_string_keys_take_bare_numbers():
    assert load_spec("ex-2.4.1", ["sweep.seeds=3"]).sweep.seeds == "3"


def test_hash_counts_schedule_length(tmp_path):
    sheet = (SPECS.parent.parent / "experiments" / "ex-2.4.1.csv").read_text()
    (tmp_path / "long.csv").write_text(sheet + "3000,,,,,,\n")
    p = write(tmp_path, "long", 'extends = "ex-2.4.1"\ndopesheet = "long.csv"\n')
    assert len(load_spec(str(p)).sheet) == 3001
    assert spec_hash(load_spec(str(p))) != spec_hash(load_spec("ex-2.4.1"))
