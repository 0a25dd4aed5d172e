"""Where each input lives inside the data bundle (relative to ``KEDREC_DATA_DIR``)."""

from __future__ import annotations

from kedrec_agent.config import Settings

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


def check_bundle(settings: Settings, files: tuple[str, ...] = LINKING_FILES + KG_FILES) -> None:
    """Raise :class:`~kedrec_agent.errors.DataMissingError` naming the first missing file."""
    for relative in files:
        settings.data_file(relative)
