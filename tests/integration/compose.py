"""Reading Baton's docker compose files without a Docker engine.

Just enough of the Compose specification for the tests: variable interpolation
(``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``, ``$$``), YAML anchors and
merge keys, the ``!override``/``!reset`` tags, and merging a second file over the
first (mappings merge, ``command``/``entrypoint``/``test`` and ``!override`` values
replace, other lists append), and ``secrets:`` from the environment written as files
(what compose mounts under /run/secrets). And the mapping of a service to a local
process: its command, its environment with service host names mapped to loopback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
REPLACED_LISTS = {"command", "entrypoint", "test"}
SECRETS_MOUNT = "/run/secrets"


class ComposeError(Exception):
    """The compose files cannot be read as Compose would read them."""


@dataclass
class Override:
    value: Any


class Reset:
    pass


class _Loader(yaml.SafeLoader):
    pass


def _override(loader: yaml.Loader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    return Override(loader.construct_scalar(node))


_Loader.add_constructor("!override", _override)
_Loader.add_constructor("!reset", lambda loader, node: Reset())

_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[^}]+)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?$", re.S)


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ComposeError(f"{path.name}:{n}: not KEY=VALUE: {line!r}")
        key, value = line.split("=", 1)
        env[key.strip()] = value.strip()
    return env


def referenced_variables(text: str) -> set[str]:
    names = set()
    for m in _VAR.finditer(text):
        body = m.group("braced") or m.group("plain")
        if body:
            names.add(_BRACED.match(body).group("name") if m.group("braced") else body)
    return names


def interpolate(value: Any, env: dict[str, str], where: str = "") -> Any:
    if isinstance(value, Override):
        return Override(interpolate(value.value, env, where))
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, where) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        if m.group("plain"):
            return env.get(m.group("plain"), "")
        parsed = _BRACED.match(m.group("braced"))
        if parsed is None:
            raise ComposeError(f"{where}: invalid interpolation {m.group(0)!r}")
        name, op, arg = parsed.group("name"), parsed.group("op"), parsed.group("arg") or ""
        have = env.get(name)
        if op in (":-", "-"):
            return have if have or (op == "-" and have is not None) else interpolate(arg, env, where)
        if op in (":?", "?"):
            if have is None or (op == ":?" and have == ""):
                raise ComposeError(f"{where}: required variable {name} is missing a value: {arg}")
            return have
        if op in (":+", "+"):
            return interpolate(arg, env, where) if have else ""
        return have or ""

    return _VAR.sub(one, value)


def _merge(base: Any, over: Any, key: str = "") -> Any:
    if isinstance(over, Override):
        return over.value
    if isinstance(over, Reset):
        return None
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v, k) if k in base else _plain(v)
        return out
    if isinstance(base, list) and isinstance(over, list) and key not in REPLACED_LISTS:
        return base + [v for v in over if v not in base]
    return _plain(over)


def _plain(value: Any) -> Any:
    if isinstance(value, Override):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass
class Service:
    name: str
    spec: dict[str, Any]
    secrets_dir: Path | None = None

    @property
    def secrets(self) -> list[str]:
        return [s if isinstance(s, str) else s["source"] for s in self.spec.get("secrets") or []]

    def local_secret(self, value: str) -> str:
        """``/run/secrets/<name>`` → the file the test wrote for it (the service must be given it)."""
        if not value.startswith(SECRETS_MOUNT + "/"):
            return value
        name = value[len(SECRETS_MOUNT) + 1 :]
        if name not in self.secrets:
            raise ComposeError(f"{self.name}: {value} is not mounted: the service is not given secret {name}")
        if self.secrets_dir is None:
            raise ComposeError(f"{self.name} reads {value}: load the files with Compose.load(..., secrets_dir=…)")
        return str(self.secrets_dir / name)

    @property
    def command(self) -> list[str]:
        command = self.spec.get("command")
        if isinstance(command, str):
            return command.split()
        return list(command or [])

    @property
    def environment(self) -> dict[str, str]:
        env = self.spec.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        return {k: "" if v is None else str(v) for k, v in env.items()}

    @property
    def volumes(self) -> list[tuple[str, str]]:
        out = []
        for v in self.spec.get("volumes") or []:
            source, target = v.split(":")[:2]
            out.append((source, target))
        return out

    def bind_source(self, container_path: str) -> Path | None:
        """The host path behind ``container_path`` (a bind mount of the compose dir)."""
        for source, target in self.volumes:
            if source.startswith((".", "/")) and (container_path == target or container_path.startswith(target + "/")):
                return (DEPLOY / source / container_path[len(target) :].lstrip("/")).resolve()
        return None


@dataclass
class Compose:
    files: list[Path]
    env: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)
    secrets_dir: Path | None = None

    @classmethod
    def load(cls, *names: str, env: dict[str, str], secrets_dir: Path | None = None) -> Compose:
        """The files merged; with ``secrets_dir``, each secret written there as compose mounts it."""
        data: dict[str, Any] = {}
        files = [DEPLOY / n for n in names]
        for path in files:
            raw = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - our own loader, SafeLoader based
            if not isinstance(raw, dict) or "services" not in raw:
                raise ComposeError(f"{path.name}: no services")
            raw = interpolate(raw, env, path.name)  # extension fields too: a required variable stops here
            raw = {k: v for k, v in raw.items() if not k.startswith("x-")}
            data = _merge(data, raw) if data else _plain(raw)
        compose = cls(files, env, data)
        if secrets_dir is not None:
            compose.write_secrets(secrets_dir)
        return compose

    @property
    def secrets(self) -> dict[str, dict[str, Any]]:
        return self.data.get("secrets") or {}

    def write_secrets(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, source in self.secrets.items():
            if "environment" in source:
                if source["environment"] not in self.env:
                    raise ComposeError(f"secret {name}: environment variable {source['environment']} is not set")
                value = self.env[source["environment"]]
            else:
                value = (DEPLOY / source["file"]).read_text()
            (folder / name).write_text(value)
            (folder / name).chmod(0o600)
        self.secrets_dir = folder

    @property
    def services(self) -> dict[str, Service]:
        return {name: Service(name, spec or {}, self.secrets_dir) for name, spec in self.data["services"].items()}


def map_hosts(value: str, hosts: dict[str, str]) -> str:
    """``nats:4222`` → ``127.0.0.1:<port>``, for every host:port the mapping names."""
    for container, local in hosts.items():
        value = re.sub(rf"(?<=[/@,]){re.escape(container)}(?=[/,]|$)", local, value)
    return value
