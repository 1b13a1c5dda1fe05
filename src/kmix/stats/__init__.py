"""Sufficient statistics: additive, mergeable summaries of data (numpy only)."""

from .rows import UniqueRows, compress_rows

__all__ = ["UniqueRows", "compress_rows"]
