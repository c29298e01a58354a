"""Pure functions from probe runs to answers.

Nothing here opens a socket or a file or reads the clock: data and ``now``
come in as arguments, answers go out as dataclasses and DataFrames. The
command line (``python -m analysis``) is the one edge that reads the store.
"""
