"""Options are typed, and the schema is the only place their defaults live (issue #12)."""
from dataclasses import fields

import pytest

from transgrn.options import SECTIONS, FitOptions, MappingOptions


@pytest.mark.parametrize("options", SECTIONS, ids=lambda o: o.SECTION)
def test_schema_keys_and_dataclass_fields_agree(schema, options):
    assert {f.name for f in fields(options)} == set(schema["properties"][options.SECTION]["properties"])


def test_defaults_come_from_the_schema_and_unknown_keys_are_refused(schema):
    mapping = MappingOptions.from_config({"method": "ot"})
    assert mapping.method == "ot"
    assert mapping.n_pairs == schema["properties"]["mapping"]["properties"]["n_pairs"]["default"]
    assert FitOptions.from_config(None).alpha == schema["properties"]["fit"]["properties"]["alpha"]["default"]
    with pytest.raises(TypeError, match="unknown option"):
        MappingOptions.from_config({"n_pair": 10})
