"""Hostile input and hostile surroundings: bad settings of every kind, a store that is full or cannot be written,
a store that must not be touched (read-only dashboards).

* ``test_bad_input``: every CLI refuses bad numbers, URLs, types and files with exit 2, naming the field, no traceback;
* ``test_store_failure``: a full or unwritable store still prints the run and writes the Prometheus file, exit 3;
* ``test_read_only``: read-only pages change not one byte of the store and create no file.
"""
