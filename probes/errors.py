"""Pathwatch's own exceptions for the probe side.

    PathwatchError
    +-- ConfigError      bad flags, config file or environment (exit code 2)
    +-- SecretError      a secret named by the config is missing (exit code 2)
"""

from __future__ import annotations


class PathwatchError(Exception):
    """Base of every error Pathwatch raises on purpose."""


class ConfigError(PathwatchError):
    """The configuration is wrong; the message names the field and what to do."""


class SecretError(ConfigError):
    """A secret the config names (env var or file) is not there."""
