"""Training package: expRxRec-style tasks -> teacher traces -> LoRA adapter.

Imports :mod:`kedrec_agent`, never the reverse. See the documentation's Training page
(docs/training.md).

Layout, dependencies one way: :mod:`training.tasks` (tasks, the KG embedding, the
gold-masked view of a task) is shared by training (:mod:`.cli`, :mod:`.collect`,
:mod:`.teacher`, :mod:`.sft`, :mod:`.configs`) and the evaluation harness (the
``evaluation`` sub-package, ``kedrec eval``); no training module imports the harness.
"""
