"""A local stand-in for the staging backend: same wire protocol, staging's failures on demand."""
