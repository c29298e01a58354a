"""Stories: a sequence of revisions, each running a scenario for a while, so deploys change behaviour live."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probes.errors import ConfigError
from sandbox.scenarios import Scenario, get_scenario

SERVICE_NAME = "netra-backend-staging"


@dataclass(frozen=True)
class Chapter:
    revision: str
    scenario: Scenario
    #: Seconds this revision stays deployed (at story scale 1.0); the last chapter lasts forever.
    duration_s: float


@dataclass(frozen=True)
class Story:
    name: str
    chapters: tuple[Chapter, ...]
    service_name: str = SERVICE_NAME
    extra: dict[str, Any] = field(default_factory=dict)

    def at(self, elapsed_s: float, scale: float) -> tuple[int, Chapter]:
        """The chapter deployed ``elapsed_s`` seconds after the server started."""
        edge = 0.0
        for i, chapter in enumerate(self.chapters[:-1]):
            edge += chapter.duration_s * scale
            if elapsed_s < edge:
                return i, chapter
        return len(self.chapters) - 1, self.chapters[-1]

    def boundaries(self, scale: float) -> list[float]:
        """Seconds after start at which each later chapter is deployed."""
        out, edge = [], 0.0
        for chapter in self.chapters[:-1]:
            edge += chapter.duration_s * scale
            out.append(edge)
        return out


def single(scenario: Scenario, revision: str = f"{SERVICE_NAME}-00290-h7q") -> Story:
    return Story(name=scenario.name, chapters=(Chapter(revision, scenario, 0.0),))


BUILTIN: dict[str, list[dict[str, Any]]] = {
    # Healthy, then the deploy that crashed every start_agent with 1011, then the
    # "fix" that only stopped the crash (connections stay open, no agent event),
    # then the real fix.
    "golden-path-incident": [
        {"revision": f"{SERVICE_NAME}-00290-h7q", "scenario": "healthy", "duration_s": 600},
        {"revision": f"{SERVICE_NAME}-00291-abc", "scenario": "orchestrator_crash", "duration_s": 600},
        {"revision": f"{SERVICE_NAME}-00292-k6b", "scenario": "silent_stall", "duration_s": 600},
        {"revision": f"{SERVICE_NAME}-00293-x2m", "scenario": "healthy", "duration_s": 600},
    ],
}


#: A chapter lasts at most a week (at story scale 1.0); more chapters than MAX_CHAPTERS is not a story.
MAX_CHAPTER_S = 7 * 86400.0
MAX_CHAPTERS = 1000


def parse_story(name: str, chapters: Any, service_name: str = SERVICE_NAME) -> Story:
    """Chapters checked one by one, each error naming ``story NAME chapters[i].field``."""
    if not isinstance(chapters, list) or not chapters:
        raise ConfigError(f"story {name}: 'chapters' must be a non-empty list")
    if len(chapters) > MAX_CHAPTERS:
        raise ConfigError(f"story {name}: 'chapters' has {len(chapters)} chapters; at most {MAX_CHAPTERS}")
    out = []
    for i, c in enumerate(chapters):
        where = f"story {name} chapters[{i}]"
        if not isinstance(c, dict):
            raise ConfigError(f"{where}: must be a table with revision, scenario, duration_s")
        unknown = set(c) - {"revision", "scenario", "duration_s", "set"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        revision, scenario = c.get("revision"), c.get("scenario")
        if not isinstance(revision, str) or not revision:
            raise ConfigError(f"{where}.revision: must be a non-empty string")
        if not isinstance(scenario, str):
            raise ConfigError(f"{where}.scenario: must be a scenario name")
        last = i == len(chapters) - 1
        duration = c.get("duration_s", 0 if last else None)
        if isinstance(duration, bool) or not isinstance(duration, int | float) or not math.isfinite(duration):
            raise ConfigError(f"{where}.duration_s: must be a number of seconds, got {duration!r}")
        if duration < 0 or (duration == 0 and not last) or duration > MAX_CHAPTER_S:
            raise ConfigError(f"{where}.duration_s: must be more than 0 and at most {MAX_CHAPTER_S:.0f} (a week)"
                              + (" (the last chapter may be 0: it lasts forever)" if last else "") + f", got {duration!r}")
        overrides = c.get("set", {})
        if not isinstance(overrides, dict):
            raise ConfigError(f"{where}.set: must be a table of scenario settings")
        out.append(Chapter(revision, get_scenario(scenario, overrides), float(duration)))
    return Story(name=name, chapters=tuple(out), service_name=service_name)


def load_story(name_or_file: str) -> Story:
    """A built-in story by name, or a JSON/TOML file ``{name, service_name?, chapters: [...]}``."""
    if name_or_file in BUILTIN:
        return parse_story(name_or_file, BUILTIN[name_or_file])
    path = Path(name_or_file)
    if not path.is_file():
        raise ConfigError(f"story {name_or_file!r}: not a built-in story {sorted(BUILTIN)} nor a file")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"story file {path}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"story file {path}: must hold a table/object")
    return parse_story(str(data.get("name", path.stem)), data.get("chapters"), str(data.get("service_name", SERVICE_NAME)))
