"""Settings that hold secrets: hidden when shown, readable from files, placeholders refused."""

from __future__ import annotations

import base64
import secrets

import pytest
from baton_shared.service.settings import BatonSettings, SecretSettingError, shown_url

PLACEHOLDERS = {  # as deploy/.env.example has them
    "BATON_NATS_PASSWORD": "change-me-intake-nats",
    "BATON_DATABASE_PASSWORD": "change-me-intake-db",
    "BATON_MASTER_KEY": "change-me-openssl-rand-base64-32",
    "BATON_TOKENS": "change-me-run-baton_shared.service.access-new",
}


@pytest.fixture(autouse=True)
def no_baton_environment(monkeypatch):
    import os

    for key in [k for k in os.environ if k.startswith("BATON_")]:
        monkeypatch.delenv(key)


def test_secrets_are_read_from_the_files_their_file_variables_name(tmp_path, monkeypatch):
    values = {
        "BATON_NATS_PASSWORD": secrets.token_hex(16),
        "BATON_DATABASE_PASSWORD": secrets.token_hex(16),
        "BATON_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    for name, value in values.items():
        (tmp_path / name).write_text(value + "\n")  # as `echo` or an editor leaves it
        monkeypatch.setenv(f"{name}_FILE", str(tmp_path / name))
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://intake@postgres:5432/intake")
    settings = BatonSettings()
    assert settings.nats_password.get_secret_value() == values["BATON_NATS_PASSWORD"]
    assert settings.master_key.get_secret_value() == values["BATON_MASTER_KEY"]
    password = values["BATON_DATABASE_PASSWORD"]
    assert settings.database_url_for("intake") == f"postgresql+asyncpg://intake:{password}@postgres:5432/intake"
    # Shown, logged or copied (follow-up makes its settings from a dump), the values stay hidden.
    for shown in (repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json()):
        assert not any(value in shown for value in values.values()), shown
    assert BatonSettings(**settings.model_dump()).nats_password == settings.nats_password


@pytest.mark.parametrize("variable", list(PLACEHOLDERS))
def test_the_example_placeholders_are_refused_naming_the_variable(variable, monkeypatch):
    monkeypatch.setenv(variable, PLACEHOLDERS[variable])
    with pytest.raises(SecretSettingError, match=f"{variable} is still the placeholder from deploy/.env.example"):
        BatonSettings()


def test_a_placeholder_in_a_database_url_or_a_secret_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://intake:change-me-intake-db@postgres/intake")
    with pytest.raises(SecretSettingError, match="password in BATON_DATABASE_URL is still the placeholder"):
        BatonSettings()
    monkeypatch.delenv("BATON_DATABASE_URL")
    (tmp_path / "key").write_text("change-me-openssl-rand-base64-32\n")
    monkeypatch.setenv("BATON_MASTER_KEY_FILE", str(tmp_path / "key"))
    with pytest.raises(SecretSettingError, match="BATON_MASTER_KEY is still the placeholder"):
        BatonSettings()


def test_a_secret_file_that_cannot_be_used_is_refused_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("BATON_NATS_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(SecretSettingError, match="BATON_NATS_PASSWORD_FILE .*missing: cannot read it"):
        BatonSettings()
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("BATON_NATS_PASSWORD_FILE", str(tmp_path / "empty"))
    with pytest.raises(SecretSettingError, match="BATON_NATS_PASSWORD_FILE .*empty is empty"):
        BatonSettings()
    (tmp_path / "one").write_text("a-real-password")
    monkeypatch.setenv("BATON_NATS_PASSWORD_FILE", str(tmp_path / "one"))
    monkeypatch.setenv("BATON_NATS_PASSWORD", "another-password")
    with pytest.raises(SecretSettingError, match="set BATON_NATS_PASSWORD or BATON_NATS_PASSWORD_FILE, not both"):
        BatonSettings()


def test_an_invalid_setting_is_reported_without_quoting_the_secrets_beside_it(monkeypatch):
    monkeypatch.setenv("BATON_NATS_PASSWORD", "a-real-password-123")
    monkeypatch.setenv("BATON_STREAM_REPLICAS", "9")
    with pytest.raises(Exception) as failed:
        BatonSettings()
    assert "stream_replicas" in str(failed.value) and "a-real-password-123" not in str(failed.value)


def test_urls_are_shown_without_their_credentials():
    assert shown_url("nats://intake:s3cret@nats:4222,nats://nats-2:4222") == "nats://nats:4222,nats://nats-2:4222"
