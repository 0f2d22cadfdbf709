import pytest
import yaml
from helpers import REPO

from transgrn.config import validate_config
from transgrn.errors import ConfigError

MINIMAL = {"data": {"adata": "a.h5ad", "prior": "p.csv", "cluster_key": "cell_type"}}


def test_defaults_are_filled(schema):
    config = validate_config(MINIMAL, schema)
    assert config["mapping"]["method"] == "lagged"
    assert config["fit"]["alpha"] == "auto"
    assert config["transitions"]["mode"] == "all"
    assert config["data"]["layer"] is None
    assert config["seed"] == 0


def test_unknown_key_is_named(schema):
    with pytest.raises(ConfigError, match=r"'alhpa'.*under 'fit'.*allowed keys are: alpha"):
        validate_config({**MINIMAL, "fit": {"alhpa": 2}}, schema)


def test_unknown_top_level_key_is_named(schema):
    with pytest.raises(ConfigError, match=r"'mappin'.*top level"):
        validate_config({**MINIMAL, "mappin": {}}, schema)


def test_value_outside_alternatives_lists_them(schema):
    with pytest.raises(ConfigError, match=r"config key 'fit.alpha': 'big' is none of the allowed values \(a number >= 0, 'auto'\)"):
        validate_config({**MINIMAL, "fit": {"alpha": "big"}}, schema)


def test_wrong_type_names_the_key(schema):
    with pytest.raises(ConfigError, match=r"config key 'mapping.n_pairs': 'many' is not of type 'integer'"):
        validate_config({**MINIMAL, "mapping": {"n_pairs": "many"}}, schema)


def test_missing_required_key(schema):
    with pytest.raises(ConfigError, match=r"'cluster_key' is a required property"):
        validate_config({"data": {"adata": "a.h5ad", "prior": "p.csv"}}, schema)


def test_bad_enum(schema):
    with pytest.raises(ConfigError, match=r"mapping.method.*'optimal'"):
        validate_config({**MINIMAL, "mapping": {"method": "optimal"}}, schema)


def test_pseudotime_mode_needs_key(schema):
    with pytest.raises(ConfigError, match="pseudotime_key is not set"):
        validate_config({**MINIMAL, "transitions": {"mode": "pseudotime"}}, schema)


def test_explicit_mode_needs_pairs(schema):
    with pytest.raises(ConfigError, match="transitions.explicit is empty"):
        validate_config({**MINIMAL, "transitions": {"mode": "explicit"}}, schema)


SHIPPED = ["config.yaml", *sorted(str(path.relative_to(REPO)) for path in (REPO / "config").glob("*.yaml"))]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_are_valid(schema, name):
    validate_config(yaml.safe_load((REPO / name).read_text()), schema)


def test_the_template_carries_nothing_of_the_demo(schema):
    """config.yaml is the start of a user's own config: no demo data, reference or simulation."""
    template = yaml.safe_load((REPO / "config.yaml").read_text())
    assert "demo" not in validate_config(template, schema)
    assert template["reference"] is None and template["data"]["pseudotime_key"] is None
    assert "resources/demo" not in (REPO / "config.yaml").read_text()


def test_scientific_notation_is_read_as_a_number(schema):
    """PyYAML (YAML 1.1) reads 1e4 and 1e-2 as strings; keys that take a number get the number."""
    loaded = yaml.safe_load("data: {target_sum: 1e4}\nfit: {alpha: 1e-2}\nmapping: {n_pairs: 1e3, lag_grid: [0, 1e-1]}")
    assert isinstance(loaded["data"]["target_sum"], str)  # the premise: without the fix validation fails
    config = validate_config(
        {"data": {**MINIMAL["data"], **loaded["data"]}, "fit": loaded["fit"], "mapping": loaded["mapping"]}, schema
    )
    assert config["data"]["target_sum"] == 10000.0 and isinstance(config["data"]["target_sum"], float)
    assert config["fit"]["alpha"] == 0.01
    assert config["mapping"]["n_pairs"] == 1000 and isinstance(config["mapping"]["n_pairs"], int)
    assert config["mapping"]["lag_grid"] == [0, 0.1]


def test_strings_where_strings_are_allowed_stay_strings(schema):
    config = validate_config(
        {**MINIMAL, "fit": {"alpha": "auto"}, "transitions": {"mode": "explicit", "explicit": [["1e5", "2"]]}}, schema
    )
    assert config["fit"]["alpha"] == "auto"
    assert config["transitions"]["explicit"] == [["1e5", "2"]]


@pytest.mark.parametrize("value", ["nan", "inf", "1e4x"])
def test_number_words_and_non_numbers_still_fail(schema, value):
    with pytest.raises(ConfigError, match=rf"config key 'data.target_sum': '{value}' is not of type 'number', 'null'"):
        validate_config({"data": {**MINIMAL["data"], "target_sum": value}}, schema)


def test_non_integral_value_of_an_integer_key_still_fails(schema):
    with pytest.raises(ConfigError, match=r"config key 'mapping.n_pairs': '1500.5' is not of type 'integer'"):
        validate_config({**MINIMAL, "mapping": {"n_pairs": "1500.5"}}, schema)


def test_explicit_defaults_give_the_same_config_in_the_same_order(schema):
    """Rule params are the completed config, compared by repr: writing a default out, or keys in
    another order, must not change it (or Snakemake reruns the later stages)."""
    import json

    plain = validate_config(MINIMAL, schema)
    spelled_out = validate_config(
        {
            "seed": 0,
            "fit": {"dtype": "float64", "solver": "ridge"},
            "models": ["linear"],
            "data": {"cluster_key": "cell_type", "prior": "p.csv", "use_raw": False, "adata": "a.h5ad"},
        },
        schema,
    )
    assert spelled_out == plain
    assert json.dumps(spelled_out) == json.dumps(plain)
    assert list(plain)[:2] == ["data", "reference"] and list(plain)[-1] == "seed"  # the schema's order


def test_sign_constraint_is_for_ridge(schema):
    validate_config({**MINIMAL, "fit": {"sign": "correlation"}}, schema)
    with pytest.raises(ConfigError, match="fit.sign is 'correlation' but fit.solver is 'lasso'"):
        validate_config({**MINIMAL, "fit": {"sign": "correlation", "solver": "lasso"}}, schema)
    with pytest.raises(ConfigError, match="fit.sign is 'confident'"):
        validate_config({**MINIMAL, "fit": {"sign": "confident", "bootstrap": 20}}, schema)
