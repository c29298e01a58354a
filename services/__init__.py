"""The workflows: the one part that composes ``store``, ``analysis`` and ``integrations``.

Detect incidents (``services.incidents``), build an incident's case file (``services.case_file``), publish it
(``services.publish``), collect the server's errors (``services.server_errors``), sync probe runs from Cloud Logging
(``services.sync``), read settings at the edge (``services.settings``). The CLIs and the pages call these and hold
no logic of their own; nothing here imports streamlit or a page. Modules are imported one by one (this package
imports nothing), so ``python -m probes sync`` never loads pandas.
"""
