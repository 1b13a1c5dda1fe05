"""Reading and writing tables: the only part of kmix that touches file formats.

Every reader goes through pyarrow: CSV files (:func:`read_table`, multi-threaded
parsing with kmix's rules for headers and labels), and any source of rows for a
streamed fit (:func:`as_source`: arrays, pandas and polars DataFrames, pyarrow
Tables, CSV and Parquet files, globs and directories, Dask DataFrames), counted
into the statistic every discrete model starts from (:func:`tally`). pandas,
polars and Dask are imported only when such an object is passed.
"""

from .files import atomic_write, check_output
from .scan import tally
from .sources import BATCH_ROWS, Source, as_source, is_source
from .tables import Table, read_table, write_table
from .tally import Labelled, LabelTally

__all__ = [
    "BATCH_ROWS",
    "LabelTally",
    "Labelled",
    "Source",
    "Table",
    "as_source",
    "atomic_write",
    "check_output",
    "is_source",
    "read_table",
    "tally",
    "write_table",
]
