"""The evaluation harness (``kedrec eval``): every method on the same tasks, gold masked.

expRxRec-style selection, PharmacotherapyDB indications, MIMIC-III medications and
free-text patients; baselines, the model and its ablations run by the same code;
``kedrec eval report`` writes the report; ``kedrec eval adapter`` checks a distilled
adapter against the base model and records the figures in its model card.

Modules: :mod:`.metrics` (pure metric functions), :mod:`.methods` (baselines, the model and
its ablations), :mod:`.exprxrec`, :mod:`.indications`, :mod:`.mimic`, :mod:`.patients` (one
task each), :mod:`.adapter` (the adapter's dev check), :mod:`.suite` (the shared set-up),
:mod:`.runs` (one function per evaluation), :mod:`.report` (tables, plots, JSON),
:mod:`.cli` (``kedrec eval``).

Of :mod:`training` it imports the shared part, :mod:`training.tasks` (the tasks and their
gold-masked view), and, only to write an adapter's dev figures into its model card,
:mod:`training.sft.report`; no other training module imports this package.
"""
