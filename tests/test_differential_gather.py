"""transgrn.differential.gather: the units' tables read back in order, one row group at a time."""
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from transgrn.differential.gather import unit_tables


def test_unit_tables_come_in_the_order_given_one_row_group_at_a_time(tmp_path):
    paths = []
    for unit, n_rows in (("b", 5), ("a", 3)):
        frame = pd.DataFrame({"unit": unit, "row": range(n_rows)})
        paths.append(tmp_path / f"{unit}.parquet")
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), paths[-1], row_group_size=2)
    frames = list(unit_tables(paths))
    assert [len(frame) for frame in frames] == [2, 2, 1, 2, 1]  # never a whole unit at once
    gathered = pd.concat(frames, ignore_index=True)
    assert list(gathered["unit"]) == ["b"] * 5 + ["a"] * 3 and list(gathered["row"]) == [0, 1, 2, 3, 4, 0, 1, 2]
    assert list(unit_tables([])) == []
