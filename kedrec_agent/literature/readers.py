"""Readers of literature files into :class:`Document` records (streaming).

Bundle formats: BC5CDR PubTator, DrugProt abstracts TSV, PubMedQA JSON, the bundle's
ClinicalTrials.gov JSONL. Real dumps: PubMed XML (baseline/update files, plain or .gz) and
ClinicalTrials.gov API v2 JSON (one study, a list, ``{"studies": [...]}`` or JSON lines).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from defusedxml import ElementTree

from kedrec_agent.data.drkg import open_text
from kedrec_agent.errors import InvalidInputError

Source = Literal["pubmed", "ctgov", "user"]
SOURCES: tuple[Source, ...] = get_args(Source)
"""Every source a passage may come from."""


@dataclass
class Document:
    """One citable document: a PubMed abstract or a ClinicalTrials.gov study."""

    source: Source
    external_id: str
    title: str
    text: str
    year: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def read_pubtator(path: Path) -> Iterator[Document]:
    """BC5CDR PubTator: title, abstract, MeSH-normalised chemical/disease mentions, CID pairs."""
    doc: dict[str, Any] = {}

    def flush() -> Iterator[Document]:
        if doc.get("pmid"):
            chemicals = sorted(doc["chemicals"])
            diseases = sorted(doc["diseases"])
            yield Document(
                "pubmed",
                doc["pmid"],
                doc.get("title", ""),
                doc.get("abstract", ""),
                metadata={
                    "mesh": sorted({*chemicals, *diseases}),
                    "chemicals": chemicals,
                    "diseases": diseases,
                    "cid": doc["cid"],
                },
            )
        doc.clear()

    with open_text(path) as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if not line:
                yield from flush()
                continue
            if "|t|" in line[:20] or "|a|" in line[:20]:
                pmid, kind, text = line.split("|", 2)
                if doc.get("pmid") not in (None, pmid):
                    yield from flush()
                doc.setdefault("chemicals", set())
                doc.setdefault("diseases", set())
                doc.setdefault("cid", [])
                doc["pmid"] = pmid
                doc["title" if kind == "t" else "abstract"] = text
                continue
            cols = line.split("\t")
            if len(cols) == 6 and doc:
                bucket = "chemicals" if cols[4] == "Chemical" else "diseases"
                doc[bucket].update(i for i in cols[5].split("|") if i and i != "-1")
            elif len(cols) == 4 and cols[1] == "CID" and doc:
                doc["cid"].append([cols[2], cols[3]])
    yield from flush()


def read_drugprot(path: Path) -> Iterator[Document]:
    """DrugProt ``PMID<TAB>Text`` abstracts."""
    with open_text(path) as handle:
        header = handle.readline()
        if not header.startswith("PMID"):
            raise InvalidInputError(f"{path}: expected a 'PMID<TAB>Text' header")
        for line in handle:
            pmid, _, text = line.rstrip("\r\n").partition("\t")
            if pmid and text:
                yield Document("pubmed", pmid, "", text)


def read_pubmedqa(path: Path) -> Iterator[Document]:
    """PubMedQA: each PMID's abstract contexts (the question is not part of the document)."""
    with open_text(path) as handle:
        data = json.load(handle)
    for pmid, item in data.items():
        year = item.get("YEAR")
        yield Document(
            "pubmed",
            str(pmid),
            "",
            " ".join(item.get("CONTEXTS", [])),
            year=int(year) if str(year).isdigit() else None,
            metadata={"mesh_terms": item.get("MESHES", [])},
        )


def _trial(
    nct: str,
    title: str,
    summary: str,
    conditions: list[str],
    interventions: list[str],
    **metadata: Any,
) -> Document:
    parts = [summary]
    if conditions:
        parts.append("Conditions: " + "; ".join(conditions) + ".")
    if interventions:
        parts.append("Interventions: " + "; ".join(interventions) + ".")
    return Document(
        "ctgov",
        nct,
        title,
        " ".join(p for p in parts if p),
        year=metadata.pop("year", None),
        metadata={"conditions": conditions, "interventions": interventions, **metadata},
    )


def _bundle_trial(row: dict[str, Any]) -> Document:
    interventions = [i.get("name", "") for i in row.get("interventions") or [] if i.get("name")]
    return _trial(
        row["nct_id"],
        row.get("brief_title") or row.get("official_title") or "",
        row.get("brief_summary") or "",
        list(row.get("conditions") or []),
        interventions,
        condition_mesh_terms=row.get("condition_mesh") or [],
        intervention_mesh_terms=row.get("intervention_mesh") or [],
        phase=row.get("phase") or "",
        status=row.get("overall_status") or "",
        pmids=[str(p) for p in row.get("pmids") or []],
    )


def _api_trial(study: dict[str, Any]) -> Document:
    protocol = study.get("protocolSection", {})
    ident = protocol.get("identificationModule", {})
    desc = protocol.get("descriptionModule", {})
    arms = protocol.get("armsInterventionsModule", {})
    status = protocol.get("statusModule", {})
    derived = study.get("derivedSection", {})
    start = (status.get("startDateStruct") or {}).get("date", "")
    meshes = [
        m.get("id", "")
        for module in ("conditionBrowseModule", "interventionBrowseModule")
        for m in (derived.get(module) or {}).get("meshes", [])
    ]
    if not ident.get("nctId"):
        raise InvalidInputError("a ClinicalTrials.gov study without identificationModule.nctId")
    return _trial(
        ident["nctId"],
        ident.get("briefTitle") or ident.get("officialTitle") or "",
        desc.get("briefSummary") or "",
        list(protocol.get("conditionsModule", {}).get("conditions", [])),
        [i.get("name", "") for i in arms.get("interventions", []) if i.get("name")],
        mesh=[m for m in meshes if m],
        phase="/".join(protocol.get("designModule", {}).get("phases", [])),
        status=status.get("overallStatus", ""),
        year=int(start[:4]) if start[:4].isdigit() else None,
    )


def read_ctgov_jsonl(path: Path) -> Iterator[Document]:
    """The bundle's ClinicalTrials.gov JSON lines, or API v2 studies one per line."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{number}: malformed JSON ({exc.msg})") from exc
            yield _api_trial(row) if "protocolSection" in row else _bundle_trial(row)


def read_ctgov_json(path: Path) -> Iterator[Document]:
    """ClinicalTrials.gov API v2 JSON: one study, a list, or ``{"studies": [...]}``."""
    with open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}: malformed JSON ({exc.msg})") from exc
    studies = data.get("studies", [data]) if isinstance(data, dict) else data
    for study in studies:
        yield _api_trial(study)


def _text(element: Any) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def read_pubmed_xml(path: Path) -> Iterator[Document]:
    """PubMed baseline/update XML (``PubmedArticleSet``), streamed article by article."""
    with open_text(path) as handle:
        for _, element in ElementTree.iterparse(handle, events=("end",)):
            if element.tag != "PubmedArticle":
                continue
            citation = element.find("MedlineCitation")
            article = citation.find("Article") if citation is not None else None
            pmid = _text(citation.find("PMID")) if citation is not None else ""
            if article is None or not pmid:
                element.clear()
                continue
            abstract = " ".join(_text(a) for a in article.findall("Abstract/AbstractText"))
            year = _text(article.find("Journal/JournalIssue/PubDate/Year"))
            mesh = [
                d.get("UI", "")
                for d in citation.findall("MeshHeadingList/MeshHeading/DescriptorName")
            ]
            chemicals = [
                c.get("UI", "") for c in citation.findall("ChemicalList/Chemical/NameOfSubstance")
            ]
            yield Document(
                "pubmed",
                pmid,
                _text(article.find("ArticleTitle")),
                abstract,
                year=int(year) if year.isdigit() else None,
                metadata={"mesh": sorted({m for m in (*mesh, *chemicals) if m})},
            )
            element.clear()


READERS: dict[str, Callable[[Path], Iterator[Document]]] = {
    "pubtator": read_pubtator,
    "drugprot": read_drugprot,
    "pubmedqa": read_pubmedqa,
    "ctgov-jsonl": read_ctgov_jsonl,
    "ctgov-json": read_ctgov_json,
    "pubmed-xml": read_pubmed_xml,
}


def detect_format(path: Path) -> str:
    """Name of the reader for ``path``, from its name and first bytes.

    Raises:
        InvalidInputError: the format is not one of :data:`READERS`.
    """
    with open_text(path) as handle:
        head = handle.read(4096)
    name = path.name.lower().removesuffix(".gz")
    stripped = head.lstrip()
    if re.match(r"^\d+\|[ta]\|", stripped):
        return "pubtator"
    if stripped.startswith("PMID\t"):
        return "drugprot"
    if "<PubmedArticleSet" in head or "<PubmedArticle>" in head:
        return "pubmed-xml"
    if name.endswith(".jsonl") and ('"nct_id"' in head or '"protocolSection"' in head):
        return "ctgov-jsonl"
    if name.endswith(".json"):
        if '"CONTEXTS"' in head:
            return "pubmedqa"
        if '"protocolSection"' in head:
            return "ctgov-json"
    raise InvalidInputError(
        f"Unknown literature format: {path.name}. Supported: PubTator (BC5CDR), PubMed XML, "
        "DrugProt abstracts TSV, PubMedQA JSON, ClinicalTrials.gov JSON / JSON lines."
    )


def read_documents(path: Path) -> Iterator[Document]:
    """Documents of any supported file (see :func:`detect_format`)."""
    return READERS[detect_format(path)](path)
