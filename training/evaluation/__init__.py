"""The evaluation harness (``kedrec eval``): every method on the same tasks, gold masked.

expRxRec-style selection, PharmacotherapyDB indications, MIMIC-III medications and
free-text patients; baselines, the model and its ablations run by the same code;
``kedrec eval report`` writes the report.

Modules: :mod:`.metrics` (pure metric functions), :mod:`.methods` (baselines, the model and
its ablations), :mod:`.exprxrec`, :mod:`.indications`, :mod:`.mimic`, :mod:`.patients` (one
task each), :mod:`.report` (tables, plots, JSON), :mod:`.cli` (``kedrec eval``).
"""
