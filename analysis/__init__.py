"""Pure functions from probe runs to answers.

Nothing here opens a socket or a file, reads the environment or the clock, or touches the store:
data, settings and ``now`` come in as arguments, answers go out as dataclasses and DataFrames.
``services`` reads the store and calls these; the command line (``python -m analysis``, in
``analysis/cli.py``) only parses arguments and prints what the services return.
"""
