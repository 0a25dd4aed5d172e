"""Where each input lives inside the data bundle (relative to ``KEDREC_DATA_DIR``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import DataMissingError, InvalidInputError

KG_SUBSET = "kg/drkg_subset.tsv.gz"
KG_DDI = ("kg/drkg_ddi.tsv.gz", "kg/drkg_ddi_extra.tsv.gz")
KG_DDI_TYPED = "kg/ddi_typed.tsv.gz"
KG_DDI_TYPES = "kg/ddi_types.tsv"
KG_RELATION_GLOSSARY = "kg/relation_glossary.tsv"
DOID_MESH_XREFS = "kg/disease_doid_mesh_xrefs.tsv"

DRUGBANK_VOCABULARY = "names/drugbank_vocabulary.csv"
MESH_TERMS = "names/mesh_terms.tsv"
MESH_TREE_NUMBERS = "names/mesh_tree_numbers.tsv"
MESH_SYMPTOMS = "names/mesh_symptoms.tsv"
HETIONET_NODES = "names/hetionet_nodes.tsv"
DISEASE_NAME_TO_MESH = "names/disease_name_to_mesh.tsv"
MIMIC_DEMO_DIR = "patients/mimic3_demo"
SYNTHEA_DIR = "patients/synthea_us_111"
ICD9_DIAGNOSES = f"{MIMIC_DEMO_DIR}/D_ICD_DIAGNOSES.csv"

# Safety tables (optional: without them interaction severities are unknown).
DDI_SEVERITY = "safety/ddinter_severity.tsv.gz"
DDI_TYPE_SEVERITY = "safety/ddi_type_severity_from_ddinter.tsv"
SIDE_EFFECTS = "safety/sider_side_effects.tsv.gz"

BC5CDR_DIR = "literature/bc5cdr"
LITERATURE_FILES = (
    f"{BC5CDR_DIR}/CDR_TrainingSet.PubTator.txt",
    f"{BC5CDR_DIR}/CDR_DevelopmentSet.PubTator.txt",
    f"{BC5CDR_DIR}/CDR_TestSet.PubTator.txt",
    "literature/pubmedqa/ori_pqal.json",
    "literature/drugprot/drugprot_abstracts.tsv",
    "literature/clinical_trials/ctgov_trials.jsonl.gz",
)

LINKING_FILES = (
    DRUGBANK_VOCABULARY,
    MESH_TERMS,
    MESH_TREE_NUMBERS,
    HETIONET_NODES,
    DISEASE_NAME_TO_MESH,
    DOID_MESH_XREFS,
    ICD9_DIAGNOSES,
)
KG_FILES = (KG_SUBSET, *KG_DDI, KG_DDI_TYPED, KG_DDI_TYPES, KG_RELATION_GLOSSARY, MESH_SYMPTOMS)

# The files of a split (``{split}``: train, dev, or another split laid out the same way).
SPLIT_DISEASES = "splits/diseases_{split}.txt"
SPLIT_INDICATIONS = "eval/pharmacotherapydb/indications_{split}.tsv"
SPLIT_RATIONALES = "eval/drugmechdb/paths_{split}.jsonl"
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def check_bundle(settings: Settings, files: tuple[str, ...] = LINKING_FILES + KG_FILES) -> None:
    """Raise :class:`~kedrec_agent.errors.DataMissingError` naming the first missing file."""
    for relative in files:
        settings.data_file(relative)


class SplitFiles(NamedTuple):
    """The files of one split of the bundle (each checked to exist).

    Attributes:
        diseases: the disease list, one DOID/MeSH id a line (``splits/diseases_<split>.txt``).
        indications: the PharmacotherapyDB TSV (``eval/pharmacotherapydb/indications_<split>.tsv``).
        rationales: the DrugMechDB paths JSONL (``eval/drugmechdb/paths_<split>.jsonl``).
    """

    diseases: Path
    indications: Path
    rationales: Path


def split_files(split: str, settings: Settings | None = None) -> SplitFiles:
    """The disease list, indications and rationales of a split of the bundle.

    The bundle ships ``train`` and ``dev``; any other split laid out the same way (a
    held-out one) is found by its name.

    Args:
        split: the split's name, e.g. ``"train"`` or ``"dev"``.
        settings: where the bundle is; default :func:`~kedrec_agent.config.get_settings`.

    Raises:
        InvalidInputError: ``split`` is not a plain name (letters, digits, ``_``, ``-``).
        DataMissingError: the bundle has no such split (the message lists those it has), or
            one of the split's files is missing (named).
    """
    settings = settings or get_settings()
    if not _SPLIT_NAME.match(split):
        raise InvalidInputError(f"Not a split name: {split[:40]!r}")
    diseases = SPLIT_DISEASES.format(split=split)
    if settings.data_dir.is_dir() and not (settings.data_dir / diseases).is_file():
        folder = (settings.data_dir / diseases).parent
        prefix, suffix = Path(SPLIT_DISEASES).name.split("{split}")
        known = sorted(
            p.name[len(prefix) : -len(suffix)] for p in folder.glob(f"{prefix}*{suffix}")
        )
        raise DataMissingError(
            f"The data bundle at {settings.data_dir} has no split {split!r} (missing "
            f"{diseases}); its splits: {', '.join(known) or 'none'}."
        )
    return SplitFiles(
        diseases=settings.data_file(diseases),
        indications=settings.data_file(SPLIT_INDICATIONS.format(split=split)),
        rationales=settings.data_file(SPLIT_RATIONALES.format(split=split)),
    )
