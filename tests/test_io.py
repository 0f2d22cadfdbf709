import re
import shutil

import pandas as pd
import pytest

from transgrn.errors import InputError
from transgrn.io import atomic_path, input_size, provenance, read_adata, sha256
from transgrn.networks import align_edges, read_network

WIDE = pd.DataFrame([[1, 0, 1, 0, 0], [0, 1, 1, 1, 0]], index=["TF1", "TF2"], columns=["G1", "G2", "G3", "G4", "TF1"])


def edge_set(edges):
    return set(zip(edges.tf, edges.target_gene))


def test_wide_prior_in_tf_by_gene_orientation(tmp_path):
    WIDE.to_csv(tmp_path / "prior.csv", index_label="tf")
    edges, taken = read_network(tmp_path / "prior.csv")
    assert edge_set(edges) == {("TF1", "G1"), ("TF1", "G3"), ("TF2", "G2"), ("TF2", "G3"), ("TF2", "G4")}
    assert "TFs as rows" in taken
    assert (edges.sign == 0).all()


def test_transposed_wide_prior_is_detected(tmp_path):
    WIDE.T.to_csv(tmp_path / "prior.tsv", sep="\t", index_label="gene")
    edges, taken = read_network(tmp_path / "prior.tsv")
    assert edge_set(edges) == {("TF1", "G1"), ("TF1", "G3"), ("TF2", "G2"), ("TF2", "G3"), ("TF2", "G4")}
    assert "genes as rows" in taken


def test_edge_list_with_signs(tmp_path):
    pd.DataFrame({"TF": ["A", "B", "A"], "target_gene": ["X", "Y", "X"], "sign": ["+", "repression", "+"]}).to_csv(
        tmp_path / "edges.csv", index=False)
    edges, taken = read_network(tmp_path / "edges.csv")
    assert taken == "edge list"
    assert list(edges.itertuples(index=False)) == [("A", "X", 1), ("B", "Y", -1)]


def test_signed_wide_prior_keeps_sign(tmp_path):
    signed = WIDE.copy()
    signed.loc["TF2", "G2"] = -1
    signed.to_csv(tmp_path / "prior.csv", index_label="tf")
    edges, _ = read_network(tmp_path / "prior.csv")
    assert edges.set_index(["tf", "target_gene"]).loc[("TF2", "G2"), "sign"] == -1
    assert edges.set_index(["tf", "target_gene"]).loc[("TF1", "G1"), "sign"] == 1


def test_non_binary_prior_is_refused(tmp_path):
    bad = WIDE.astype(float)
    bad.iloc[0, 0] = 0.7
    bad.to_csv(tmp_path / "prior.csv", index_label="tf")
    with pytest.raises(InputError, match=r"binary \(0/1\) or signed.*0.7"):
        read_network(tmp_path / "prior.csv")


def test_no_shared_genes_shows_examples():
    edges = pd.DataFrame({"tf": ["gata1"], "target_gene": ["klf1"], "sign": [0]})
    with pytest.raises(InputError, match=r"look like gata1, klf1.*look like GATA1, KLF1.*case"):
        align_edges(edges, pd.Index(["GATA1", "KLF1"]))


def test_unreadable_h5ad(tmp_path):
    path = tmp_path / "broken.h5ad"
    path.write_bytes(b"not an hdf5 file")
    with pytest.raises(InputError, match=r"data.adata: .*could not be read as an .h5ad file"):
        read_adata(path)
    with pytest.raises(InputError, match="does not exist"):
        read_adata(tmp_path / "missing.h5ad")


def test_a_missing_relative_path_names_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=rf"'in/missing.h5ad' does not exist \(looked for {re.escape(str(tmp_path))}/in/"):
        read_adata("in/missing.h5ad")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        open(tmp, "w").write("whole")
    assert target.read_text() == "whole" and len(list(tmp_path.iterdir())) == 1


# ------------------------------------------------------------------------------------ AnnData .zarr input


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_zarr_store_reads_as_the_same_anndata(tmp_path, small_simulation, zarr_format):
    import anndata as ad

    with ad.settings.override(zarr_write_format=zarr_format):
        small_simulation.adata.write_zarr(tmp_path / "adata.zarr")
    marker = {2: ".zgroup", 3: "zarr.json"}[zarr_format]
    assert (tmp_path / "adata.zarr" / marker).is_file()
    read = read_adata(tmp_path / "adata.zarr")
    assert (read.X == small_simulation.adata.X).all()
    pd.testing.assert_frame_equal(read.obs, small_simulation.adata.obs)
    assert list(read.var_names) == list(small_simulation.adata.var_names)


def test_a_folder_that_is_not_a_zarr_store_is_refused_with_the_fix(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/matrix.mtx").write_text("%%MatrixMarket")
    with pytest.raises(InputError, match=r"data.adata: .*'.*data' is a folder but not a Zarr store .*AnnData.write_zarr"):
        read_adata(tmp_path / "data")


def test_a_broken_zarr_store_is_refused_with_the_fix(tmp_path, small_simulation):
    small_simulation.adata.write_zarr(tmp_path / "adata.zarr")
    chunk = next(f for f in sorted((tmp_path / "adata.zarr/X").iterdir()) if not f.name.startswith("."))
    chunk.write_bytes(b"not a compressed chunk")  # an interrupted copy
    with pytest.raises(InputError, match=r"could not be read as an AnnData Zarr store .*anndata.read_zarr"):
        read_adata(tmp_path / "adata.zarr")


def test_a_folder_hashes_by_its_files_wherever_it_lies(tmp_path, small_simulation):
    small_simulation.adata.write_zarr(tmp_path / "a.zarr")
    shutil.copytree(tmp_path / "a.zarr", tmp_path / "elsewhere/b.zarr")
    digest = sha256(tmp_path / "a.zarr")
    assert len(digest) == 64 and sha256(tmp_path / "elsewhere/b.zarr") == digest
    assert provenance({}, {"adata": tmp_path / "a.zarr"}, 0)["inputs"]["adata"]["sha256"] == digest
    assert input_size(tmp_path / "a.zarr") == sum(f.stat().st_size for f in (tmp_path / "a.zarr").rglob("*") if f.is_file())
    # a changed value, or a file renamed, changes the digest
    chunk = next(f for f in sorted((tmp_path / "elsewhere/b.zarr/obs").rglob("*")) if f.is_file() and f.stat().st_size > 8)
    chunk.write_bytes(chunk.read_bytes()[:-1] + b"\0")
    assert sha256(tmp_path / "elsewhere/b.zarr") != digest
    shutil.copytree(tmp_path / "a.zarr", tmp_path / "c.zarr")
    (tmp_path / "c.zarr/uns").rename(tmp_path / "c.zarr/uns2")
    assert sha256(tmp_path / "c.zarr") != digest


# ------------------------------------------------------------------------------------ unwritable outputs


@pytest.mark.parametrize("refuses", ["mkdir", "mkstemp", "replace"])
def test_an_unwritable_results_folder_names_the_folder_and_the_fix(tmp_path, monkeypatch, refuses):
    """Issue 27: a results folder that became read-only (or a full disk) is an OutputError, one line in the
    job's log, not a PermissionError traceback labelled 'please report'."""
    import errno
    import os
    import tempfile
    from pathlib import Path

    from transgrn.errors import OutputError
    from transgrn.io import write_json

    target = tmp_path / "results/transitions/t1/metrics.json"
    folder = target.parent if refuses != "mkdir" else tmp_path / "results"
    folder.mkdir(parents=True, exist_ok=True)
    denied = PermissionError(errno.EACCES, "Permission denied")
    if refuses == "mkdir":
        real_mkdir = Path.mkdir
        denied.filename = str(tmp_path / "results/transitions")

        def mkdir(self, *args, **kwargs):
            if self == target.parent:
                raise denied
            return real_mkdir(self, *args, **kwargs)
        monkeypatch.setattr(Path, "mkdir", mkdir)
    elif refuses == "mkstemp":
        denied.filename = str(target.parent / ".metrics.json.abc.json")
        monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(denied))
    else:
        denied.filename = str(target.parent / ".metrics.json.abc.json")
        monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(denied))
    with pytest.raises(OutputError) as info:
        write_json({"r2": 0.5}, target)
    assert str(info.value).startswith(f"cannot write {target}: permission denied on '{folder}' (Permission denied). "
                                      f"Make the folder writable (chmod -R u+w '{folder}')")
    assert not list(target.parent.glob(".metrics.json.*"))  # no temporary left behind


def test_a_full_disk_is_an_output_error_too(tmp_path, monkeypatch):
    import errno
    import os

    from transgrn.errors import OutputError
    from transgrn.io import write_json

    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OutputError, match=r"cannot write .*a.json: No space left on device. Free space there"):
        write_json({}, tmp_path / "a.json")
