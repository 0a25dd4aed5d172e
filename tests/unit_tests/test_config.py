"""Settings from environment variables, and clear errors for a missing bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from kedrec_agent.config import Settings
from kedrec_agent.data.bundle import check_bundle
from kedrec_agent.errors import ConfigError, DataMissingError
from tests.conftest import FIXTURE_BUNDLE


def test_defaults_and_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "KEDREC_DATA_DIR": str(tmp_path),
            "KEDREC_HOME": str(tmp_path / "home"),
            "KEDREC_SPARQL_ENDPOINT": "http://127.0.0.1:7878/query",
            "KEDREC_SPARQL_TIMEOUT": "2.5",
        }
    )
    assert settings.data_dir == tmp_path
    assert settings.kg_store_dir == tmp_path / "home" / "kg" / "oxigraph"
    assert settings.sparql_endpoint == "http://127.0.0.1:7878/query"
    assert settings.sparql_timeout_s == 2.5
    default = Settings.from_env({})
    assert default.data_dir.name == "data" and default.home.name == ".kedrec"
    assert default.sparql_endpoint is None
    assert (default.pg_read_dsn, default.pg_statement_timeout_s) == (None, 5.0)
    server = Settings.from_env(
        {"KEDREC_PG_DSN": "postgresql://w@db/k", "KEDREC_PG_READ_DSN": "postgresql://r@db/k",
         "KEDREC_PG_STATEMENT_TIMEOUT": "0.5"}
    )  # fmt: skip
    assert (server.pg_read_dsn, server.pg_statement_timeout_s) == ("postgresql://r@db/k", 0.5)


@pytest.mark.parametrize(
    "env",
    [
        {"KEDREC_SPARQL_ENDPOINT": "ftp://example"},
        {"KEDREC_SPARQL_TIMEOUT": "soon"},
        {"KEDREC_SPARQL_TIMEOUT": "-1"},
        {"KEDREC_PG_STATEMENT_TIMEOUT": "0"},
        {"KEDREC_PG_READ_DSN": "postgresql://reader@db/kedrec"},  # without KEDREC_PG_DSN
        {"KEDREC_REASONER_BACKEND": "vllm"},
        {"KEDREC_REASONER_BACKEND": "openai"},  # without KEDREC_LLM_BASE_URL
        {"KEDREC_LLM_BASE_URL": "localhost:8080"},
        {"KEDREC_LLM_TIMEOUT": "0"},
    ],
)
def test_invalid_values_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_missing_data_dir_and_missing_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError, match="KEDREC_DATA_DIR"):
        check_bundle(Settings(data_dir=tmp_path / "nowhere", home=tmp_path))
    partial = tmp_path / "partial"
    (partial / "kg").mkdir(parents=True)
    with pytest.raises(DataMissingError, match=r"missing names/drugbank_vocabulary\.csv"):
        check_bundle(Settings(data_dir=partial, home=tmp_path))
    check_bundle(Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path))  # complete: no error


def test_adapter_setting_default_packaged_or_none(tmp_path: Path) -> None:
    from kedrec_agent.reasoning import runtime

    base = {"KEDREC_DATA_DIR": str(tmp_path), "KEDREC_HOME": str(tmp_path)}
    default = Settings.from_env(base)
    off = Settings.from_env({**base, "KEDREC_ADAPTER": "none"})
    own = Settings.from_env({**base, "KEDREC_ADAPTER": str(tmp_path / "mine")})
    assert (default.adapter, default.default_adapter) == (None, True)
    assert (off.adapter, off.default_adapter) == (None, False)
    assert runtime.adapter_path(off) is None
    assert runtime.adapter_path(own) == tmp_path / "mine"
    shipped = (runtime.PACKAGED_ADAPTER / "adapter_config.json").is_file()
    packaged = runtime.PACKAGED_ADAPTER if shipped else None
    assert runtime.adapter_path(default) == packaged
    custom_model = Settings.from_env({**base, "KEDREC_MODEL": str(tmp_path)})
    assert runtime.adapter_path(custom_model) is None  # trained on the default base only


def test_openai_backend_settings_and_its_key_is_never_kept() -> None:
    from kedrec_agent.reasoning.backends import OpenAIBackend

    env = {
        "KEDREC_REASONER_BACKEND": "openai",
        "KEDREC_LLM_BASE_URL": "http://127.0.0.1:8080/v1",
        "KEDREC_LLM_TIMEOUT": "7.5",
        "KEDREC_LLM_API_KEY": "sk-secret",
    }
    settings = Settings.from_env(env)
    assert (settings.reasoner_backend, settings.llm_model, settings.llm_timeout_s) == (
        "openai", "kedrec", 7.5,
    )  # fmt: skip
    assert "sk-secret" not in repr(settings)
    backend = OpenAIBackend.from_settings(settings)
    assert backend.info() == {"model": "kedrec at 127.0.0.1:8080", "adapter": None}
    assert Settings.from_env({}).reasoner_backend == "transformers"


def test_in_own_thread_returns_raises_and_keeps_the_context() -> None:
    import contextvars
    import threading

    from kedrec_agent.hardware import in_own_thread

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")
    caller = threading.get_ident()
    assert in_own_thread(lambda: (var.get(), threading.get_ident() != caller)) == ("caller", True)

    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        in_own_thread(fail)
