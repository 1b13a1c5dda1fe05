"""Sufficient statistics: additive, mergeable summaries of data (numpy only)."""

from .coins import CoinCounts, CoinMoments
from .rows import UniqueRows, code_dtype, compress_rows, count_rows

__all__ = ["CoinCounts", "CoinMoments", "UniqueRows", "code_dtype", "compress_rows", "count_rows"]
