"""Supervised fine-tuning: teacher traces -> a LoRA adapter for the reasoning model.

Each trace becomes one example: the prompt exactly as serving builds it
(:meth:`Reasoner.prompt <kedrec_agent.reasoning.reasoner.Reasoner.prompt>`: chat template,
budgeted evidence, the answer prefix) and the teacher's completion followed by the EOS
token. The loss is on the completion only.

Modules: :mod:`.examples` (traces -> tokenized examples, tokenized as serving tokenizes),
:mod:`.trainer` (the LoRA run: :func:`~.trainer.train_adapter`), :mod:`.report` (the run's
report and the adapter's model card, where ``kedrec eval adapter`` records its dev figures).
"""
