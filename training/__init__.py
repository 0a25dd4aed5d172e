"""Training package (teacher traces -> LoRA adapter). Imports kedrec_agent, never the reverse.

Not implemented yet: see the training issue.
"""
