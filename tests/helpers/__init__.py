"""Helpers shared by test files in several folders (plain functions and constants).

Fixtures shared by several files live in the ``conftest.py`` of their folder.
"""
