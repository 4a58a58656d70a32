"""docker-compose.yml and the Dockerfile as data, for checks that need no Docker engine:
variables interpolated as Compose does, ports and volumes parsed, each service mapped
to the settings class its process reads."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from api_gateway.settings import GatewaySettings
from ops.cluster import ClusterSettings
from tests.support.processes import ROOT
from workers.common.settings import WorkerSettings

COMPOSE_FILE = ROOT / "docker-compose.yml"
SCALE_FILE = ROOT / "deploy" / "compose.scale.yml"
DOCKERFILE = ROOT / "Dockerfile"

# What an operator exports before `docker compose up` (the `${VAR:?}` ones).
HOST_ENV = {
    "JWT_SECRET": "8f1e0c9a7b6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f",
    "POSTGRES_PASSWORD": "pg-0123456789abcdef",
    "REPLICATION_PASSWORD": "repl-0123456789abcdef",
    "RABBITMQ_PASSWORD": "mq-0123456789abcdef",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(KeyError):
    """A `${VAR:?message}` whose variable the host environment does not set."""


def interpolate(value: str, environ: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        present = environ.get(name)
        if operator in (":-", "-"):
            return present if present else argument
        if operator in (":?", "?"):
            if not present:
                raise MissingVariable(f"{name}: {argument}")
            return present
        return present or ""

    return _VARIABLE.sub(one, value)


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@dataclass(frozen=True)
class Reset:
    """Compose's `!reset` tag: drop what the files before this one set."""

    value: Any


class _OverrideLoader(yaml.SafeLoader):
    pass


_OverrideLoader.add_constructor(
    "!reset", lambda loader, node: Reset(loader.construct_sequence(node)
                                         if isinstance(node, yaml.SequenceNode)
                                         else loader.construct_scalar(node))
)


def load_override(path: Path = SCALE_FILE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_OverrideLoader)  # noqa: S506 (a SafeLoader)


def environment(service: dict[str, Any], environ: dict[str, str] = HOST_ENV) -> dict[str, str]:
    raw = raw_environment(service)
    return {name: interpolate(value, environ) for name, value in raw.items()}


def raw_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def module_of(service: dict[str, Any]) -> str | None:
    """The Python module the service runs (`python -m X`, or `itemx` = ops.cli)."""
    cmd = command(service)
    if cmd[:2] == ["python", "-m"] and len(cmd) > 2:
        return cmd[2]
    if cmd[:1] == ["itemx"]:
        return "ops.cli"
    return None


def settings_class(service: dict[str, Any]) -> type[BaseSettings] | None:
    """The settings every process of this kind reads (its ports, URLs)."""
    module = module_of(service)
    if module == "api_gateway":
        return GatewaySettings
    if module and module.startswith("workers."):
        return WorkerSettings
    if module == "ops.cli" and "cluster-init" in command(service):
        return ClusterSettings
    return None


def settings_classes(service: dict[str, Any]) -> list[type[BaseSettings]]:
    """Every settings class the service's process reads: its kind's, plus any defined in
    its own package (the transactions worker's saga timing, for example)."""
    base = settings_class(service)
    if base is None:
        return []
    module = module_of(service) or ""
    package = "api_gateway" if base is GatewaySettings else module.rpartition(".")[0]
    if base is ClusterSettings:
        return [base]
    found = [base]
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        loaded = importlib.import_module(f"{package}.{info.name}")
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if (issubclass(cls, BaseSettings) and cls.__module__ == loaded.__name__
                    and cls not in found):
                found.append(cls)
    return found


def worker_name(service: dict[str, Any]) -> str | None:
    """`accounts` for `python -m workers.accounts.main`."""
    module = module_of(service) or ""
    match = re.fullmatch(r"workers\.(\w+)\.main", module)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Port:
    host_ip: str
    host: int | None
    container: int


def ports(service: dict[str, Any]) -> list[Port]:
    published = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published.append(Port(str(entry.get("host_ip", "")),
                                  int(entry["published"]) if entry.get("published") else None,
                                  int(entry["target"])))
            continue
        spec = str(entry).split("/")[0]
        parts = spec.rsplit(":", 2)
        if len(parts) == 1:
            published.append(Port("", None, int(parts[0])))
        elif len(parts) == 2:
            published.append(Port("", int(parts[0]), int(parts[1])))
        else:
            published.append(Port(parts[0], int(parts[1]), int(parts[2])))
    return published


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    named: bool  # a named volume, not a path of this repository


def mounts(service: dict[str, Any]) -> list[Mount]:
    found = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            source, target = str(entry.get("source", "")), str(entry["target"])
        else:
            source, target = str(entry).split(":")[:2]
        found.append(Mount(source, target, not source.startswith((".", "/", "~"))))
    return found


def postgres_settings(service: dict[str, Any]) -> dict[str, str]:
    """The `-c name=value` arguments of a PostgreSQL container's command."""
    cmd, found = command(service), {}
    for flag, value in zip(cmd, cmd[1:], strict=False):
        if flag == "-c" and "=" in value:
            name, _, setting = value.partition("=")
            found[name] = setting
    return found


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    instructions = []
    for text in logical:
        keyword, _, arguments = text.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions
