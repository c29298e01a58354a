"""Pathwatch probes: the golden-path measuring instrument.

This package is the one home of the shared concepts (phase names, failure
classes, the run record); every other part imports them from here.
"""

__version__ = "0.1.0"
