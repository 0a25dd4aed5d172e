"""What training and evaluation share: expRxRec-style tasks and the gold-masked view of them.

The part of :mod:`training` that the evaluation harness (``kedrec eval``) builds on (it
also reads an adapter's report, :mod:`training.sft.report`, to record dev figures in the
model card). Nothing here imports the rest of :mod:`training`, and no training module
imports the harness, so the dependency runs one way.

Modules:

* :mod:`.schema`: the task and trace formats (pydantic, JSONL);
* :mod:`.inputs`: readers of the disease lists, PharmacotherapyDB and DrugMechDB files;
* :mod:`.kg_embedding`: the drug embedding behind the hard negatives;
* :mod:`.build`: :func:`~.build.build_tasks`, one true indication among hard negatives;
* :mod:`.summary`: the counts of a task set (:func:`~.summary.summarize_tasks`);
* :mod:`.files`: task JSONL files, their default place, file hashes;
* :mod:`.visible`: a task's evidence as the agent's tools gather it, gold masked.
"""
