"""Reading prior and reference networks in the layouts people have them, as edges ``tf, target_gene, sign``.

:func:`read_network` detects the layout from the file's name and first lines, in this order
(the first rule that matches wins, so one file never reads two ways):

1. ``.parquet``: a table (edge list, CellOracle base GRN or wide matrix, as for text below);
2. ``.gmt``: SCENIC regulons, one per line (``name<TAB>description<TAB>genes...``);
3. ``.sif``, or a first line whose second tab-separated field is a SIF relation type: Pathway
   Commons' SIF (``A<TAB>controls-expression-of<TAB>B``, no header); its extended SIF too;
4. a first line whose third field is a mode (``Activation``/``Repression``/``Unknown``, a sign):
   a headerless edge list such as TRRUST's ``TF<TAB>target<TAB>mode<TAB>PMIDs``;
5. a table with a header (delimiter ``,``, ``;`` or tab, detected from the header line):
   a. an edge list: a TF column and a target column (names in :data:`TF_COLUMNS`,
      :data:`TARGET_COLUMNS`; decoupler/CollecTRI ``source,target,weight``), optional sign;
   b. regulons as lists: a TF column and a column of target lists (:data:`LIST_COLUMNS`);
   c. a CellOracle base GRN: ``peak_id, gene_short_name`` and one 0/1 column per TF;
   d. otherwise a wide 0/1 (or -1/0/1) matrix whose first column holds row names.

Names are read as text (``00001`` and a gene called ``NA`` survive). ``sign`` is +1/-1, or 0 where
unknown; an edge listed with both signs gets 0. Every problem raises :class:`InputError` naming the
config key (``data.prior`` or ``reference``), the problem and the fix.
"""

from __future__ import annotations

import ast
import gzip
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

log = logging.getLogger(__name__)

EDGE_COLUMNS = ["tf", "target_gene", "sign"]
SIGN_WORDS = {"+": 1, "-": -1, "\u2212": -1, "+1": 1,
              "activation": 1, "activates": 1, "activator": 1, "activating": 1, "positive": 1,
              "repression": -1, "represses": -1, "repressor": -1, "repressing": -1, "inhibition": -1,
              "negative": -1}
UNKNOWN_SIGN = {"", "nan", "none", "na", "?", "unknown", "0"}
# Column names accepted (case-insensitive; the first present wins). decoupler/CollecTRI write
# source,target,weight; DoRothEA tf,target,mor; OmniPath adds *_genesymbol beside UniProt ids;
# SCENIC R's regulonTargetsInfo TF,gene; TRRUST with a header TF,Target,Mode.
TF_COLUMNS = ("tf", "source_genesymbol", "source", "regulator")
TARGET_COLUMNS = ("target_gene", "target_genesymbol", "target", "gene")
SIGN_COLUMNS = ("sign", "mode", "mor", "weight")
# In these a 0 means "no edge" (decoupler's weight, DoRothEA's mor), not "unknown sign"
MASK_SIGN_COLUMNS = ("mor", "weight")
LIST_TF_COLUMNS = (*TF_COLUMNS, "regulon")
LIST_COLUMNS = ("targets", "target_genes", "targetgenes", "genes")
CELLORACLE_COLUMNS = ("peak_id", "gene_short_name")

SIF_KEPT = "controls-expression-of"
# Pathway Commons' SIF relation types (https://www.pathwaycommons.org/pc2/formats#sif_relations)
SIF_RELATIONS = {SIF_KEPT, "controls-state-change-of", "controls-transport-of", "controls-phosphorylation-of",
                 "catalysis-precedes", "in-complex-with", "interacts-with", "neighbor-of", "consumption-controlled-by",
                 "controls-production-of", "controls-transport-of-chemical", "chemical-affects", "reacts-with",
                 "used-to-produce"}
EXTENDED_SIF_HEADER = ["participant_a", "interaction_type", "participant_b"]
# pySCENIC names regulons "Gata6(+)" (AUCell) or "Gata6_(+)" (loom); SCENIC (R) "Gata6_extended (42g)"
REGULON_NAME = re.compile(r"^(?P<tf>.+?)(?:_extended)?_?(?:\((?P<sign>[+\-\u2212])\))?(?:\s*\(\d+g\))?$")
SAMPLE_LINES = 50
FORMAT_HELP = ("accepted layouts: an edge list with a header (tf,target_gene[,sign], or source,target,weight), "
               "TRRUST's TF<TAB>target<TAB>mode, a Pathway Commons .sif, a CellOracle base GRN "
               "(peak_id,gene_short_name,<TFs>), SCENIC regulons (.gmt, or TF,targets), or a wide 0/1 matrix")


# --------------------------------------------------------------------------- entry point


def read_network(path: str | os.PathLike, key: str = "data.prior", orientation: str = "auto") -> tuple[pd.DataFrame, str]:
    """Read a prior or reference network as edges ``tf, target_gene, sign`` (see the module docstring).

    ``orientation`` applies to a wide matrix: ``tf_by_gene``, ``gene_by_tf`` or ``auto`` (the
    shorter axis holds the TFs). Returns the edges (one row per TF-target pair, in file order;
    ``sign`` int8, 0 = unknown) and a description of the layout taken, which is also logged.
    """
    from .io import _require_file  # io re-exports this module, so it is imported here, not at the top

    path = _require_file(path, key)
    edges, taken = _read_any(path, key, orientation)
    edges = _clean(edges, key)
    if edges.empty:
        raise InputError(f"{key}: '{path}' holds no edges (read as {taken}); {FORMAT_HELP}")
    log.info("%s: read %d edges (%d TFs, %d signed) from %s as %s", key, len(edges), edges["tf"].nunique(),
             int((edges["sign"] != 0).sum()), path, taken)
    return edges, taken


def _read_any(path: Path, key: str, orientation: str) -> tuple[pd.DataFrame, str]:
    suffix = _suffix(path)
    if suffix == ".parquet":
        try:
            table = pd.read_parquet(path)
        except Exception as exc:
            raise InputError(f"{key}: '{path}' could not be read as Parquet ({type(exc).__name__}: {exc}); "
                             "write it again, or give a CSV/TSV file") from None
        table.columns = table.columns.astype(str)
        return _from_table(table, key, orientation)
    lines = _head_lines(path, key)
    if suffix == ".gmt":
        return _read_gmt(path, key), "SCENIC regulons (.gmt)"
    first = lines[0].split("\t")
    extended = [f.strip().lower() for f in first[:3]] == EXTENDED_SIF_HEADER
    if suffix == ".sif" or extended or (len(first) >= 3 and first[1].strip().lower() in SIF_RELATIONS):
        return _read_sif(path, key, extended), f"SIF ({SIF_KEPT} relations)"
    delimiter = _delimiter(lines[0])
    if _is_headerless_with_mode(lines, delimiter):
        table = _read_csv(path, key, delimiter, header=None, dtype=str)
        return _mode_table(table, key), "TRRUST-style edge list (TF, target, mode; no header)"
    header = _read_csv(path, key, delimiter, nrows=0).columns.astype(str)
    kind = _table_kind(header)
    # names as text; the values of a CellOracle base GRN or a wide matrix as numbers (there are many)
    names = list(header) if kind in ("edge list", "regulon lists") else [c for c in header if c.lower() in CELLORACLE_COLUMNS]
    table = _read_csv(path, key, delimiter, dtype={c: str for c in (names or list(header[:1]))})
    log.info("%s: a %s-separated table with columns %s", key, _DELIMITER_NAMES[delimiter], ", ".join(header[:8]))
    return _from_table(table, key, orientation)


def _from_table(table: pd.DataFrame, key: str, orientation: str) -> tuple[pd.DataFrame, str]:
    if table.empty or table.shape[1] < 2:
        raise InputError(f"{key}: the table has {table.shape[1]} column(s) and {len(table)} rows, no network; "
                         f"{FORMAT_HELP}")
    kind = _table_kind(table.columns)
    if kind == "edge list":
        return _edge_list(table, key), "edge list"
    if kind == "regulon lists":
        return _regulon_lists(table, key), "SCENIC regulons (TF and target lists)"
    if kind == "CellOracle base GRN":
        return _celloracle(table, key), "CellOracle base GRN"
    edges, orient = _wide_to_edges(table, key, orientation)
    rows = "TFs" if orient == "tf_by_gene" else "genes"
    return edges, f"wide matrix with {rows} as rows ({orient})"


def _table_kind(columns) -> str:
    lower = {str(c).strip().lower() for c in columns}
    if lower & set(TF_COLUMNS) and lower & set(TARGET_COLUMNS):
        return "edge list"
    if lower & set(LIST_TF_COLUMNS) and lower & set(LIST_COLUMNS):
        return "regulon lists"
    if set(CELLORACLE_COLUMNS) <= lower:
        return "CellOracle base GRN"
    return "wide matrix"


def _column(table: pd.DataFrame, names: tuple[str, ...]):
    """The first of ``names`` (case-insensitive) among the table's columns, or None."""
    lower = {str(c).strip().lower(): c for c in table.columns}
    return next((lower[n] for n in names if n in lower), None)


# --------------------------------------------------------------------------- text files


_DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon"}


def _suffix(path: Path) -> str:
    """The file's type suffix, lower case, without a compression suffix: data.sif.gz -> .sif."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2", ".xz", ".zip")]
    return suffixes[-1] if suffixes else ""


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _lines(path: Path) -> Iterator[str]:
    """The file's lines without line ends (gzip-compressed or not; a UTF-8 byte-order mark dropped)."""
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        for line in handle:
            yield line.rstrip("\r\n")


def _head_lines(path: Path, key: str) -> list[str]:
    """The first non-empty lines, to detect the layout; refuses binary and empty files."""
    lines: list[str] = []
    try:
        for line in _lines(path):
            if line.strip():
                lines.append(line)
            if len(lines) >= SAMPLE_LINES:
                break
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputError(f"{key}: '{path}' is not a UTF-8 text table ({type(exc).__name__}); save it as CSV/TSV "
                         "(e.g. from a spreadsheet: 'CSV UTF-8'), or as Parquet") from None
    if not lines or "\x00" in lines[0]:
        what = "empty" if not lines else "a binary file, not a text table"
        raise InputError(f"{key}: '{path}' is {what}; give a CSV/TSV or Parquet network ({FORMAT_HELP})")
    return lines


def _delimiter(header: str) -> str:
    """The delimiter of a table: whichever of tab, ``,`` and ``;`` its header line holds most
    (header names hold none of them, unlike quoted cells such as a regulon's target list)."""
    counts = {d: header.count(d) for d in ("\t", ",", ";")}
    return max(counts, key=counts.get)  # ties: tab, then comma (dicts keep insertion order)


def _read_csv(path: Path, key: str, delimiter: str, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=delimiter, keep_default_na=False, encoding="utf-8-sig",
                           compression="gzip" if _is_gzip(path) else "infer", **kwargs)
    except Exception as exc:  # pandas raises several types for malformed tables
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise InputError(f"{key}: '{path}' could not be read as a {_DELIMITER_NAMES[delimiter]}-separated table "
                         f"({type(exc).__name__}: {reason}); check that every row has the same number of fields"
                         ) from None


def _is_sign(value: str) -> bool:
    text = value.strip().lower()
    return text in SIGN_WORDS or text in UNKNOWN_SIGN or text in ("1", "-1")


def _is_headerless_with_mode(lines: list[str], delimiter: str) -> bool:
    """Every sampled line has a sign or mode word third, and the first line names no column we know:
    TRRUST's layout. A table with a header fails this on its header line."""
    rows = [line.split(delimiter) for line in lines]
    first = {f.strip().lower() for f in rows[0][:2]}
    return (not first & {*TF_COLUMNS, *TARGET_COLUMNS}
            and all(len(r) >= 3 and _is_sign(r[2]) and r[0].strip() and r[1].strip() for r in rows))


def _mode_table(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """A headerless table: TF, target, mode (a sign); further columns (PMIDs) ignored."""
    table = table.astype(str)
    return pd.DataFrame({"tf": table[0], "target_gene": table[1], "sign": _parse_sign(table[2], key, "3 (mode)")})


def _read_sif(path: Path, key: str, extended: bool) -> pd.DataFrame:
    """``A <relation> B [C ...]`` lines; only ``controls-expression-of`` is a TF -> target relation.
    An extended SIF (Pathway Commons' .txt) has a header and ends its edges at the first blank line."""
    tfs, targets = [], []
    relations: Counter = Counter()
    lines = _lines(path)
    if extended:
        next(lines)
    for line in lines:
        if not line.strip():
            if extended:
                break
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        relation = fields[1].strip().lower() if len(fields) >= 3 else "(no relation)"
        relations[relation] += 1
        if relation == SIF_KEPT:
            for target in fields[2:3] if extended else fields[2:]:
                tfs.append(fields[0])
                targets.append(target)
    others = {r: n for r, n in relations.most_common() if r != SIF_KEPT}
    if others:
        log.info("%s: SIF: kept %d %s lines; ignored %d lines of other relation types (%s)", key,
                 relations[SIF_KEPT], SIF_KEPT, sum(others.values()),
                 ", ".join(f"{r}: {n}" for r, n in others.items()))
    if not tfs:
        found = ", ".join(f"{r}: {n}" for r, n in relations.most_common(5)) or "none"
        raise InputError(f"{key}: '{path}' (SIF) has no '{SIF_KEPT}' relation, the only one that is a TF -> target "
                         f"edge (relations found: {found}); export the network with transcriptional regulation, "
                         "or give an edge list tf,target_gene")
    return pd.DataFrame({"tf": tfs, "target_gene": targets, "sign": np.int8(0)})


# --------------------------------------------------------------------------- signs


def _parse_sign(values: pd.Series, key: str, column: str = "sign") -> np.ndarray:
    """+1/-1 from numbers, +/- (or the minus sign) or words; 0 (unknown) from an empty cell, 0, '?' or 'unknown'."""

    def one(value):
        text = str(value).strip().lower()
        return 0 if text in UNKNOWN_SIGN else SIGN_WORDS.get(text, text)

    numeric = pd.to_numeric(values.map(one), errors="coerce")
    bad_rows = numeric.isna() | ~numeric.isin([-1, 0, 1])
    if bad_rows.any():
        bad = values[bad_rows].unique()[:5]
        raise InputError(
            f"{key}: column '{column}' must hold signs, +1/-1 (or +/-, activation/repression; 0, empty or "
            f"'unknown' = unknown); found {', '.join(map(str, bad))} in {int(bad_rows.sum())} rows. transgrn uses the "
            "prior as a mask of allowed edges: if these are confidence scores, keep the edges you trust (e.g. "
            "score > 0.5) and drop the column")
    return numeric.to_numpy(dtype=np.int8)


def merge_duplicate_edges(edges: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row per TF-target pair, in order of first appearance. A pair listed with both signs gets
    0 (unknown); an unknown listing does not override a known sign (TRRUST lists a pair once per
    mode it was reported with)."""
    grouped = edges.groupby(["tf", "target_gene"], sort=False)["sign"]
    low, high = grouped.min(), grouped.max()
    both = (low < 0) & (high > 0)
    if both.any():
        example = " -> ".join(both[both].index[0])
        log.warning("%s: %d edges are listed with both signs (e.g. %s); their sign is taken as unknown (0)",
                    key, int(both.sum()), example)
    sign = np.where(both, 0, np.where(high > 0, 1, low)).astype(np.int8)
    return pd.DataFrame({"tf": low.index.get_level_values(0), "target_gene": low.index.get_level_values(1), "sign": sign})


def _clean(edges: pd.DataFrame, key: str) -> pd.DataFrame:
    """Names as stripped text, rows without a name dropped (with a count), duplicates merged."""
    edges = edges.assign(tf=edges["tf"].astype(str).str.strip(), target_gene=edges["target_gene"].astype(str).str.strip())
    unnamed = (edges["tf"] == "") | (edges["target_gene"] == "")
    if unnamed.any():
        log.warning("%s: %d rows without a TF or target name were ignored", key, int(unnamed.sum()))
        edges = edges[~unnamed]
    return merge_duplicate_edges(edges[EDGE_COLUMNS], key)


# --------------------------------------------------------------------------- tables


def _edge_list(table: pd.DataFrame, key: str) -> pd.DataFrame:
    tf_col, target_col = _column(table, TF_COLUMNS), _column(table, TARGET_COLUMNS)
    edges = pd.DataFrame({"tf": table[tf_col].astype(str), "target_gene": table[target_col].astype(str)})
    sign_col = _column(table, SIGN_COLUMNS)
    used = f"{tf_col} -> {target_col}"
    if sign_col is None:
        edges["sign"] = np.int8(0)
    else:
        sign = _parse_sign(table[sign_col], key, str(sign_col))
        if str(sign_col).lower() in MASK_SIGN_COLUMNS:
            # a weight/mor column of 0/1 is a mask (0 = no edge); with -1 in it, a signed one
            edges, sign = edges[sign != 0], sign[sign != 0]
            if not (sign < 0).any():
                sign = np.zeros_like(sign)
        edges = edges.assign(sign=sign)
        used += f", sign from {sign_col}"
    ignored = [str(c) for c in table.columns if c not in (tf_col, target_col, sign_col)]
    log.info("%s: edge list columns %s%s", key, used, f"; ignored {', '.join(ignored)}" if ignored else "")
    return edges


def _regulon_name(name: str) -> tuple[str, int]:
    """TF and sign of a SCENIC regulon name: ``Gata6(+)``, ``Gata6_(+)``, ``Gata6_extended (42g)``, ``Gata6``."""
    match = REGULON_NAME.match(name.strip())
    if match is None:
        return name.strip(), 0
    return match["tf"], SIGN_WORDS.get(match["sign"] or "", 0)


def _target_list(cell: str) -> list[str]:
    """Targets from ``A;B``, ``A,B``, ``A B`` or a Python list string (``['A', 'B']``, or pySCENIC's
    ``[('A', 0.5), ...]`` of (gene, weight) pairs)."""
    text = str(cell).strip()
    if text[:1] in "[({":
        try:
            items = ast.literal_eval(text)
            return [str(i[0] if isinstance(i, (tuple, list)) else i) for i in items]
        except (ValueError, SyntaxError, TypeError, IndexError):
            text = text.strip("[](){}")
    return [t.strip("'\" ") for t in re.split(r"[;,|\s]+", text) if t.strip("'\" ")]


def _regulon_edges(regulons: list[tuple[str, list[str]]]) -> pd.DataFrame:
    rows = []
    for name, targets in regulons:
        tf, sign = _regulon_name(name)
        rows += [(tf, target, sign) for target in targets]
    return pd.DataFrame(rows, columns=EDGE_COLUMNS).astype({"sign": np.int8})


def _regulon_lists(table: pd.DataFrame, key: str) -> pd.DataFrame:
    tf_col, list_col = _column(table, LIST_TF_COLUMNS), _column(table, LIST_COLUMNS)
    log.info("%s: regulons from columns %s (names like Gata6(+) give the sign) and %s", key, tf_col, list_col)
    return _regulon_edges([(str(n), _target_list(t)) for n, t in zip(table[tf_col], table[list_col])])


def _read_gmt(path: Path, key: str) -> pd.DataFrame:
    regulons = []
    for line in _lines(path):
        fields = line.split("\t")
        if len(fields) >= 3:
            regulons.append((fields[0], [g for g in fields[2:] if g.strip()]))
    if not regulons:
        raise InputError(f"{key}: '{path}' holds no gene set; a .gmt line is name<TAB>description<TAB>gene<TAB>gene...")
    return _regulon_edges(regulons)


def _binary_columns(table: pd.DataFrame, columns, key: str, what: str) -> pd.DataFrame:
    values = table[columns].apply(pd.to_numeric, errors="coerce")
    bad = values.isna() | ~values.isin([0, 1])
    if bad.any().any():
        column = bad.any()[bad.any()].index[0]
        found = ", ".join(map(str, table.loc[bad[column], column].unique()[:5]))
        raise InputError(f"{key}: {what} column '{column}' must hold 0/1; found {found}. Export the base GRN as "
                         "CellOracle writes it (peak_id, gene_short_name, then one 0/1 column per TF)")
    return values


def _celloracle(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """TF -> gene_short_name wherever the TF's column is 1, over all peaks (pairs deduplicated later)."""
    peak, gene = _column(table, ("peak_id",)), _column(table, ("gene_short_name",))
    # an unnamed first column is the index pandas wrote beside the data
    tfs = [c for c in table.columns if c not in (peak, gene) and str(c).strip() and not str(c).startswith("Unnamed:")]
    if not tfs:
        raise InputError(f"{key}: the CellOracle base GRN has no TF columns beside peak_id and gene_short_name")
    genes = table[gene].astype(str).to_numpy()
    parts = []
    for tf in tfs:  # column by column: a base GRN has ~10^5 peaks x ~10^3 TFs
        hits = _binary_columns(table, [tf], key, "CellOracle TF")[tf].to_numpy() == 1
        parts.append(pd.DataFrame({"tf": str(tf), "target_gene": genes[hits]}))
    edges = pd.concat(parts, ignore_index=True).drop_duplicates()
    log.info("%s: CellOracle base GRN: %d peaks, %d TF columns, %d TF-gene pairs", key, len(table), len(tfs), len(edges))
    return edges.assign(sign=np.int8(0))


def _wide_to_edges(table: pd.DataFrame, key: str, orientation: str) -> tuple[pd.DataFrame, str]:
    table = table.set_index(table.columns[0])
    table.index = table.index.astype(str)
    table.columns = table.columns.astype(str)
    values = table.apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any():
        raise InputError(f"{key}: the wide prior matrix holds non-numeric or empty cells; use 0/1 (or -1/0/1 for "
                         "signed edges). If the file is an edge list, give it a header naming its columns: tf (or "
                         f"source, regulator), target_gene (or target, gene), optionally sign; {FORMAT_HELP}")
    if not values.isin([-1, 0, 1]).all().all():
        bad = np.unique(values.to_numpy()[~values.isin([-1, 0, 1]).to_numpy()])[:5]
        raise InputError(f"{key}: the prior must be binary (0/1) or signed (-1/0/1); found values {', '.join(map(str, bad))}. "
                         "transgrn uses the prior as a mask of allowed edges: threshold or binarize it first")
    if orientation == "auto":
        # A prior has fewer regulators than regulated genes: the shorter axis holds the TFs.
        orientation = "tf_by_gene" if values.shape[0] <= values.shape[1] else "gene_by_tf"
    if orientation == "gene_by_tf":
        values = values.T
    stacked = values.stack()
    stacked = stacked[stacked != 0]
    edges = pd.DataFrame({
        "tf": stacked.index.get_level_values(0).astype(str),
        "target_gene": stacked.index.get_level_values(1).astype(str),
        "sign": np.where(values.isin([0, 1]).all().all(), 0, np.sign(stacked.to_numpy())).astype(np.int8),
    })
    return edges, orientation


# --------------------------------------------------------------------------- matching the data's genes

FEW_SHARED = 0.5  # below this fraction of edges kept, warn with examples of unmatched names
CASE_GAIN = 0.1  # ignoring case keeps this share more edges (and at least one): "clearly more", warn
CASE_FIX = "set data.prior_case: ignore to match names case-insensitively"


def data_spelling(names: pd.Series, genes: pd.Index) -> pd.Series:
    """Each name as the data spells it where only the case differs. Exact matches, and names whose
    case-insensitive match in the data is not unique, are left as they are."""
    exact = set(map(str, genes))
    by_lower: dict[str, list[str]] = {}
    for gene in exact:
        by_lower.setdefault(gene.lower(), []).append(gene)
    spelling = {name: name if name in exact or len(by_lower.get(name.lower(), ())) != 1 else by_lower[name.lower()][0]
                for name in pd.unique(names)}
    return names.map(spelling)


def _in_data_case(edges: pd.DataFrame, genes: pd.Index) -> pd.DataFrame:
    return edges.assign(tf=data_spelling(edges["tf"], genes), target_gene=data_spelling(edges["target_gene"], genes))


def _kept(edges: pd.DataFrame, gene_set: set) -> pd.Series:
    return edges["tf"].isin(gene_set) & edges["target_gene"].isin(gene_set)


def _case_gain(edges: pd.DataFrame, keep: pd.Series, genes: pd.Index, gene_set: set) -> tuple[int, str] | None:
    """How many edges matching case-insensitively would keep, and an example name, when that is
    clearly more than ``keep`` (at least one edge, and CASE_GAIN more); else None."""
    matched = _in_data_case(edges, genes)
    n_exact, n_any = int(keep.sum()), int(_kept(matched, gene_set).sum())
    if n_any - n_exact < max(1, CASE_GAIN * n_exact):
        return None
    for column in ("tf", "target_gene"):
        changed = matched[column] != edges[column]
        if changed.any():
            return n_any, f"{edges.loc[changed, column].iloc[0]} ~ {matched.loc[changed, column].iloc[0]}"
    return None


def _warn_few_shared(edges, keep, genes, gene_set, key) -> None:
    prior_genes = pd.unique(pd.concat([edges["tf"], edges["target_gene"]]))
    missing = [g for g in prior_genes if g not in gene_set]
    log.warning(
        "%s: only %d of %d edges (%.1f%%; %d of %d TFs) have both genes in the data. Network genes not in the "
        "data look like %s; data genes look like %s. Check that both use the same gene identifiers and species.",
        key, int(keep.sum()), len(keep), 100 * keep.mean(), edges.loc[keep, "tf"].nunique(), edges["tf"].nunique(),
        ", ".join(map(str, missing[:5])), ", ".join(map(str, list(genes[:5]))))


def align_edges(edges: pd.DataFrame, genes: pd.Index, key: str = "data.prior", case: str = "exact",
                warn_below: float = FEW_SHARED) -> pd.DataFrame:
    """Keep the edges whose TF and target are both measured; fail clearly if none are.

    ``case='ignore'`` (``data.prior_case``) first renames every name to the data's spelling where
    only the case differs. With ``case='exact'`` a warning names that option when it would keep
    clearly more edges (a mouse data set with a human upper-case prior). ``warn_below``: warn with
    examples of unmatched names when fewer than this share of the edges is kept (0 for a
    reference, which usually spans more genes than the data).
    """
    if case not in ("exact", "ignore"):
        raise InputError(f"data.prior_case: '{case}' is not one of exact, ignore")
    genes = pd.Index(genes).astype(str)
    gene_set = set(genes)
    if case == "ignore":
        edges = merge_duplicate_edges(_in_data_case(edges, genes), key)
    keep = _kept(edges, gene_set)
    gain = _case_gain(edges, keep, genes, gene_set) if case == "exact" else None
    if keep.any():
        if gain is not None:
            log.warning("%s: %d of %d edges have both genes in the data; %d match when case is ignored (e.g. %s). "
                        "%s, or harmonize the names", key, int(keep.sum()), len(edges), gain[0], gain[1], CASE_FIX)
        elif keep.mean() < warn_below:
            _warn_few_shared(edges, keep, genes, gene_set, key)
        return edges[keep].reset_index(drop=True)
    prior_genes = pd.unique(pd.concat([edges["tf"], edges["target_gene"]]))
    hint = f" {gain[0]} edges match when case is ignored (e.g. {gain[1]}): {CASE_FIX}." if gain else ""
    raise InputError(
        f"{key}: no edge of the network has both its TF and its target among the data's genes. "
        f"Network genes look like {', '.join(map(str, prior_genes[:5]))}; data genes look like "
        f"{', '.join(map(str, list(genes[:5])))}. Use the same gene identifiers (symbols vs Ensembl IDs, species) "
        f"in both.{hint}"
    )
