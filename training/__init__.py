"""Training package: expRxRec-style tasks -> teacher traces -> LoRA adapter.

Imports :mod:`kedrec_agent`, never the reverse. See ``../shared/DESIGN.md``, Training.
"""
