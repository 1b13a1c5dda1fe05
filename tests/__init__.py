"""kmix's test suite: one folder per package of src/kmix."""
