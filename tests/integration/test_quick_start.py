"""The README's docker compose quick start, followed to the letter (all but the docker and curl
lines: there is no Docker engine here): every secret a service needs gets a real value, and the
token the README shows how to use is one the services accept."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess

from baton_shared.privacy import MasterKey
from baton_shared.service.access import ADMIN, TokenBook

from tests.integration.compose import DEPLOY, Compose, read_env_file

ROOT = DEPLOY.parent


def quick_start() -> list[str]:
    """The command lines of the first code block under "With docker compose"."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### With docker compose") :]
    block = re.search(r"```\n(.*?)```", section, re.DOTALL).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def follow(lines: list[str], where) -> str:
    """Run the quick start's shell lines in ``where`` (holding a copy of deploy/); the TOKEN it sets."""
    script = [line for line in lines if not line.startswith(("docker ", "curl "))]
    script.append('printf "%s" "${TOKEN:-}" > "$TOKEN_OUT"')
    env = {**os.environ, "TOKEN_OUT": str(where / "token")}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return (where / "token").read_text()


def test_the_readme_quick_start_gives_every_secret_a_real_value(tmp_path):
    shutil.copytree(DEPLOY, tmp_path / "deploy", ignore=shutil.ignore_patterns(".env", "secrets"))
    lines = quick_start()
    assert any(line.startswith("docker compose up") for line in lines), lines
    token = follow(lines, tmp_path)

    env_file = tmp_path / "deploy" / ".env"
    env = read_env_file(env_file)
    assert not [k for k, v in env.items() if "change-me" in v], "placeholders left in deploy/.env"
    assert set(read_env_file(DEPLOY / ".env.example")) <= set(env)
    for files in (("docker-compose.yml",), ("docker-compose.yml", "docker-compose.cluster.yml")):
        Compose.load(*files, env=env)  # raises, naming it, if a variable compose needs is unset
    MasterKey.from_base64(env["BATON_MASTER_KEY"])  # what intake loads at start-up
    who = TokenBook.parse(env["BATON_TOKENS"], "BATON_TOKENS").identify(token)
    assert who is not None and who.role == ADMIN, "the README's TOKEN is not an admin token the services know"
    passwords = [v for k, v in env.items() if "PASSWORD" in k]
    assert len(set(passwords)) == len(passwords) and all(re.fullmatch(r"[0-9a-f]{48}", p) for p in passwords)
    for private in (env_file, tmp_path / "deploy" / "secrets" / "api-tokens.json"):
        assert stat.S_IMODE(private.stat().st_mode) & 0o077 == 0, private

    # Followed again (or after an upgrade): every secret kept, PostgreSQL's above all.
    before = env_file.read_text()
    assert follow(lines, tmp_path) == token
    assert env_file.read_text() == before


def test_a_new_setting_in_the_example_is_added_and_what_is_set_is_kept(tmp_path):
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy, ignore=shutil.ignore_patterns(".env", "secrets"))
    (deploy / ".env").write_text("POSTGRES_PASSWORD=0123456789abcdef\nBATON_LOG_LEVEL=DEBUG\nMY_OWN=1\n")
    done = subprocess.run([str(deploy / "make-secrets")], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    env = read_env_file(deploy / ".env")
    assert env["POSTGRES_PASSWORD"] == "0123456789abcdef" and env["BATON_LOG_LEVEL"] == "DEBUG" and env["MY_OWN"] == "1"
    assert "change-me" not in env["BATON_INTAKE_DB_PASSWORD"] and "POSTGRES_PASSWORD" not in done.stdout


def test_the_secrets_are_never_committed():
    for path in ("deploy/.env", "deploy/secrets/api-tokens.json"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"{path} is not ignored by git"
