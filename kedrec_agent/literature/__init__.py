"""Literature: Postgres + pgvector passages (PubMed, ClinicalTrials.gov), hybrid search."""
