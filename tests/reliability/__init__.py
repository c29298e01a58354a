"""The reliability suite: tries to break Pathwatch and checks nothing is lost, hung, leaked or injected.

* ``test_crash_safety``: kill -9 a writing probe 100 times (integrity, no half-written run, no lost run);
  a full store (exit 3, a message naming the file, earlier runs intact).
* ``test_concurrent_writers``: 8 probe processes, incident detection and every dashboard page at once.
* ``test_hostile_servers``: hypothesis-generated server behaviour; a server stalling at each phase.
* ``test_secrets``: every output of every path swept for the signing secret, JWTs and GitHub tokens
  (``tests/conftest.py`` also sweeps every file the whole suite left behind).
* ``test_hostile_text``: hostile annotations on every page, in AppTest and in headless Chromium.

CI runs it as part of the test command; ``python -m bench reliability`` runs it with heavier settings.
"""
