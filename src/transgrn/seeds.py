"""Per-transition random streams derived from the one seed in the config."""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(seed: int, *labels: str) -> int:
    """A 63-bit seed from the config seed and labels (e.g. transition id, purpose).

    Uses a cryptographic hash so that the value is the same on every machine and Python
    (unlike ``hash()``), and distinct labels give independent streams.
    """
    text = "\x1f".join([str(int(seed)), *map(str, labels)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def rng_for(seed: int, *labels: str) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *labels))
