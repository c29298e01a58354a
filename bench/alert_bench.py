"""Time from the first failed run to the Alertmanager POST and to Alertmanager's webhook, as cron would run it.

The sandbox plays the crash story (healthy, then every ``start_agent`` crashes with 1011). Each tick of
``interval_s`` runs ``python -m probes run --once`` then ``python -m analysis incidents detect`` (the two cron lines),
with a real Alertmanager (group_wait 0) and a tap (a stand-in Alertmanager recording when our POST arrives) as
channels. Times are monotonic marks in this process: the launch of the first probe whose run failed, the tap's
arrival, the webhook's arrival. The goal: the POST within one detection interval after ``open_after`` failed runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, record, table

OPEN_AFTER = 3


def _one(interval_s: float, tmp: Path) -> dict[str, float]:
    from sandbox.scenarios import get_scenario
    from sandbox.stories import Chapter, Story
    from tests.alerting.test_alertmanager import running_alertmanager
    from tests.conftest import running_sandbox
    from tests.fakes.alert_receiver import running_receiver

    story = Story("crash", (Chapter("rev-ok", get_scenario("healthy"), interval_s * 1.5), Chapter("rev-crash", get_scenario("orchestrator_crash"), 0.0)))
    db = tmp / "pathwatch.db"
    with running_receiver() as hook, running_receiver() as tap, running_alertmanager(tmp, f"{hook.url}/hook") as am, \
            running_sandbox(story=story, story_scale=1.0, time_scale=0.02) as sb:
        settings = tmp / "settings.toml"
        settings.write_text(f'[incidents]\nopen_after = {OPEN_AFTER}\n[alerting]\nprobe_interval_s = {max(1.0, interval_s)}\n'
                            f'[[alerting.channels]]\nname = "am"\nkind = "alertmanager"\nurl = "{am}"\n'
                            f'[[alerting.channels]]\nname = "tap"\nkind = "alertmanager"\nurl = "{tap.url}"\n', encoding="utf-8")
        env = os.environ | {"PATHWATCH_SETTINGS": str(settings)}
        probe = [sys.executable, "-m", "probes", "run", "--url", sb.url, "--health-url", sb.health_url, "--target", "sandbox", "--once",
                 "--quiet", "--timeout", "3", "--db", str(db)]
        detect = [sys.executable, "-m", "analysis", "incidents", "detect", "--db", str(db)]
        start = time.monotonic()
        fails: list[float] = []
        tick = 0
        while not tap.posts:
            assert time.monotonic() - start < 60 * interval_s + 120, "no alert reached Alertmanager"
            launched = time.monotonic()
            if subprocess.run(probe, cwd=ROOT, env=env, capture_output=True).returncode == 1:
                fails.append(launched)
            subprocess.run(detect, cwd=ROOT, env=env, capture_output=True, check=True)
            tick += 1
            time.sleep(max(0.0, start + tick * interval_s - time.monotonic()))
        deadline = time.monotonic() + 30
        while not hook.bodies("/hook") and time.monotonic() < deadline:
            time.sleep(0.02)
        posted, hooked = tap.posts[0]["at"], hook.posts[0]["at"] if hook.posts else float("nan")
    return {"first_fail_to_post": posted - fails[0], "first_fail_to_hook": hooked - fails[0],
            "open_after_to_post": posted - fails[OPEN_AFTER - 1], "fails_seen": len(fails)}


def run(interval_s: float = 5.0, repeat: int = 3) -> None:
    """Print and record the figures (median of ``repeat`` stories) and their ratio to one detection interval."""
    got = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as d:
            got.append(_one(interval_s, Path(d)))
    med = {k: statistics.median(g[k] for g in got) for k in got[0]}
    rows = [["first failed run -> Alertmanager POST (s)", f"{med['first_fail_to_post']:.2f}", f"{med['first_fail_to_post'] / interval_s:.2f}x"],
            ["first failed run -> Alertmanager's webhook (s)", f"{med['first_fail_to_hook']:.2f}", f"{med['first_fail_to_hook'] / interval_s:.2f}x"],
            [f"run #{OPEN_AFTER} (open_after) -> Alertmanager POST (s)", f"{med['open_after_to_post']:.2f}",
             f"{med['open_after_to_post'] / interval_s:.2f}x (goal <= 1x)"]]
    body = (f"Crash story on the sandbox; each tick of {interval_s:g} s runs `python -m probes run --once` then "
            f"`python -m analysis incidents detect` (cron's two lines); `open_after = {OPEN_AFTER}`; a real Alertmanager "
            f"(group_wait 200 ms) and a stand-in tap as channels; median of {repeat}. Ratio: to one detection interval.\n\n"
            + table(["figure", "median", "of one interval"], rows))
    record("8. Alerting: first failed run to Alertmanager", body)
