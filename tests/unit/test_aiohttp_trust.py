"""The deferred CA store of aiohttp's default TLS contexts: same settings, read at first use."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path

import certifi
import pytest

from publisher.aws.aiohttp_trust import TrustOnFirstUse, deferred_default_trust
from publisher.import_hooks import run_first_import_within

# Builds its contexts at import, as aiohttp.connector does.
MODULE = """
import ssl
VERIFIED = ssl.create_default_context()
UNVERIFIED = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
UNVERIFIED.check_hostname = False
UNVERIFIED.verify_mode = ssl.CERT_NONE
UNVERIFIED.set_default_verify_paths()
"""


def trusted(context: ssl.SSLContext) -> int:
    return int(context.cert_store_stats()["x509_ca"])


def first_connection(context: ssl.SSLContext) -> None:
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="events.example.com")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A known system store (OpenSSL reads SSL_CERT_FILE in set_default_verify_paths)."""
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def test_a_deferred_context_keeps_its_settings_and_reads_the_store_at_first_connection(
    store: None,
) -> None:
    with deferred_default_trust() as pending:
        context = ssl.create_default_context()
    assert pending == [context]
    assert isinstance(context, TrustOnFirstUse)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert trusted(context) == 0  # fails closed until then
    first_connection(context)
    assert trusted(context) == trusted(ssl.create_default_context()) > 0


def test_outside_the_block_contexts_read_the_store_at_once(store: None) -> None:
    with deferred_default_trust():
        pass
    assert "set_default_verify_paths" not in vars(ssl.SSLContext)
    assert trusted(ssl.create_default_context()) > 0


def test_the_first_import_of_the_module_runs_under_deferred_trust(
    store: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "publisher_test_tls_at_import"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    run_first_import_within(name, deferred_default_trust)
    run_first_import_within(name, deferred_default_trust)  # once
    try:
        module = __import__(name)
    finally:
        sys.modules.pop(name, None)
    verified, unverified = module.VERIFIED, module.UNVERIFIED
    assert isinstance(verified, TrustOnFirstUse)
    assert isinstance(unverified, TrustOnFirstUse)
    assert (verified.verify_mode, unverified.verify_mode) == (ssl.CERT_REQUIRED, ssl.CERT_NONE)
    assert module.__spec__.origin == str(tmp_path / f"{name}.py")
    assert trusted(verified) == 0
    first_connection(verified)
    assert trusted(verified) > 0
    assert not any(getattr(f, "module", None) == name for f in sys.meta_path)
