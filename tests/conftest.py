"""Shared fixtures: a store built from the tiny committed bundle, and the real bundle store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kedrec_agent.agent.graph import build_graph
from kedrec_agent.config import Settings
from kedrec_agent.kg.build import build_store
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import Linker
from kedrec_agent.services import Services
from tests.stubs import tiny_services

FIXTURE_BUNDLE = Path(__file__).parent / "fixtures" / "bundle"


@pytest.fixture(scope="session")
def tiny_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over the tiny bundle, with its KG store built in a temporary home."""
    settings = Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path_factory.mktemp("kedrec-home"))
    build_store(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def tiny_kg(tiny_settings: Settings) -> KnowledgeGraph:
    return KnowledgeGraph.from_settings(tiny_settings)


@pytest.fixture(scope="session")
def tiny_linker(tiny_settings: Settings) -> Linker:
    return Linker.from_settings(tiny_settings)


@pytest.fixture(scope="session")
def tiny_agent_services(
    tiny_settings: Settings, tiny_linker: Linker, tiny_kg: KnowledgeGraph
) -> Services:
    """The tiny stores, no model, literature down (see :func:`tests.stubs.tiny_services`)."""
    return tiny_services(tiny_settings, tiny_linker, tiny_kg)


@pytest.fixture(scope="session")
def tiny_graph(tiny_agent_services: Services) -> Any:
    """The agent's graph over :func:`tiny_agent_services`: answers rank by evidence."""
    return build_graph(services=tiny_agent_services)


@pytest.fixture(scope="session")
def bundle_settings() -> Settings:
    """Settings over the real data bundle (KEDREC_DATA_DIR); the store is built if needed."""
    settings = Settings.from_env()
    if not (settings.data_dir / "kg" / "drkg_subset.tsv.gz").is_file():
        pytest.skip(f"data bundle not found at {settings.data_dir} (set KEDREC_DATA_DIR)")
    build_store(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def bundle_kg(bundle_settings: Settings) -> KnowledgeGraph:
    return KnowledgeGraph.from_settings(bundle_settings)
