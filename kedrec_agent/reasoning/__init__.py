"""The reasoning node: a local LLaMA-architecture model (plus LoRA) that chooses and explains."""
