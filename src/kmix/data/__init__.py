"""Reading and writing tables: the only part of kmix that touches file formats.

Plain CSV needs nothing beyond the standard library and numpy. pandas, when a
caller asks for a DataFrame, is imported lazily here and nowhere else.
"""

from .files import atomic_write, check_output
from .tables import Table, read_table, write_table

__all__ = ["Table", "atomic_write", "check_output", "read_table", "write_table"]
