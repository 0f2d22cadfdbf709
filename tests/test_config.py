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
