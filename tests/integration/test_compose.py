"""The distributed deployment, checked without a Docker engine: docker-compose.yml, the
Dockerfile and their companions in deploy/ read as data and compared with what the code
reads (its settings classes, at test time), plus the one thing that needs a database:
that the read-only pool's URL really opens sessions that read from Citus secondaries."""

from __future__ import annotations

import importlib.util
import re
import stat
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from api_gateway.settings import DEVELOPMENT_JWT_SECRET, GatewaySettings
from ops import healthcheck
from ops.cluster import parse_nodes, parse_secondaries
from tests.support import env
from tests.support.compose import (
    HOST_ENV,
    Reset,
    command,
    dockerfile_instructions,
    environment,
    load_compose,
    load_override,
    module_of,
    mounts,
    ports,
    postgres_settings,
    raw_environment,
    settings_class,
    settings_classes,
    worker_name,
)
from tests.support.processes import ROOT
from workers.common.db import Database
from workers.common.settings import WorkerSettings

COMPOSE = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP = {name: cls for name, s in SERVICES.items() if (cls := settings_class(s)) is not None}
LONG_RUNNING_APP = [name for name in APP if SERVICES[name].get("restart") != "no"]
CITUS = {n: s for n, s in SERVICES.items() if str(s.get("image", "")).startswith("citusdata/")}
SEED_PORTS = {5000: "gateway", 5001: "accounts", 5002: "products", 5003: "transactions"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _effective_port(name: str) -> int:
    service, cls = SERVICES[name], APP[name]
    field = "gateway_port" if cls is GatewaySettings else f"{worker_name(service)}_port"
    value = environment(service).get(field.upper())
    return int(value) if value is not None else int(cls.model_fields[field].default)


def _needs_a_value(name: str, default: Any, required: bool) -> bool:
    """A setting whose default is only right on a developer's machine."""
    if required or name == "itemx_env":
        return True
    if default == DEVELOPMENT_JWT_SECRET:
        return True
    return isinstance(default, str) and any(host in default for host in LOCAL_HOSTS)


def _healthcheck_test(service: dict[str, Any]) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test") or []
    return [test] if isinstance(test, str) else list(test)


def test_the_compose_file_has_the_whole_system() -> None:
    assert set(SEED_PORTS.values()) <= set(APP), f"application services: {sorted(APP)}"
    assert "cluster-init" in APP and "rabbitmq" in SERVICES
    roles = {re.sub(r"-\d+$", "", name) for name in CITUS}
    assert roles == {"citus-coordinator", "citus-worker", "citus-replica"}, sorted(CITUS)
    assert len([n for n in CITUS if n.startswith("citus-worker-")]) == 3
    assert len([n for n in CITUS if n.startswith("citus-replica-")]) == 3


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_an_image_or_a_build(name: str) -> None:
    assert SERVICES[name].get("image") or SERVICES[name].get("build")


@pytest.mark.parametrize("name", sorted(APP))
def test_every_application_command_exists(name: str) -> None:
    module = module_of(SERVICES[name])
    assert module and importlib.util.find_spec(module), f"{name} runs {command(SERVICES[name])}"


def test_dependencies_wait_until_healthy_or_done() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for target, rule in depends.items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            condition = (rule or {}).get("condition")
            if condition == "service_healthy":
                health = SERVICES[target].get("healthcheck") or {}
                assert not health.get("disable") and _healthcheck_test(SERVICES[target]), (
                    f"{name} waits for {target} to be healthy, which has no health check"
                )
            elif condition == "service_completed_successfully":
                assert SERVICES[target].get("restart") == "no", f"{target} is not a one-shot job"
            else:
                pytest.fail(f"{name} -> {target}: condition {condition!r}")


@pytest.mark.parametrize("name", sorted(LONG_RUNNING_APP))
def test_application_services_wait_for_their_dependencies(name: str) -> None:
    depends = SERVICES[name].get("depends_on") or {}
    assert depends.get("rabbitmq", {}).get("condition") == "service_healthy"
    if any("database_url" in cls.model_fields for cls in settings_classes(SERVICES[name])):
        assert depends.get("cluster-init", {}).get("condition") == (
            "service_completed_successfully"
        ), f"{name} reads the database before cluster-init migrated it"


@pytest.mark.parametrize("name", sorted(LONG_RUNNING_APP))
def test_application_health_checks_ask_the_process_port(name: str) -> None:
    test = " ".join(_healthcheck_test(SERVICES[name]))
    assert f"127.0.0.1:{_effective_port(name)}/health" in test, test


def test_the_image_health_check_knows_every_process_port() -> None:
    ports_read = {
        field.upper(): info.default
        for cls in (GatewaySettings, WorkerSettings)
        for field, info in cls.model_fields.items() if field.endswith("_port")
    }
    assert ports_read == healthcheck.DEFAULT_PORTS


def test_the_seed_ports_are_published() -> None:
    for host_port, name in SEED_PORTS.items():
        published = {p.host: p.container for p in ports(SERVICES[name])}
        assert published.get(host_port) == _effective_port(name) == host_port, (
            f"{name} should publish {host_port} -> its port {_effective_port(name)}"
        )


def test_no_two_services_bind_the_same_host_port() -> None:
    owners: dict[int, str] = {}
    for name, service in SERVICES.items():
        for port in ports(service):
            if port.host is None:
                continue
            assert port.host not in owners, f"{owners[port.host]} and {name} bind {port.host}"
            owners[port.host] = name


@pytest.mark.parametrize("name", sorted(APP))
def test_every_setting_the_process_reads_is_set_or_safely_defaulted(name: str) -> None:
    """A setting whose default points at localhost, is the development secret, or is the
    development mode must be set; the others (timeouts, pool sizes, limits, log level,
    ports checked above) keep their defaults, which are the production values."""
    env_ = environment(SERVICES[name])
    classes: list[type[BaseSettings]] = settings_classes(SERVICES[name])
    fields = {field: info for cls in classes for field, info in cls.model_fields.items()}
    unknown = sorted(set(env_) - {field.upper() for field in fields})
    assert not unknown, f"{name} sets variables its process never reads: {unknown}"
    for field, info in fields.items():
        value = env_.get(field.upper())
        if _needs_a_value(field, info.default, info.is_required()):
            assert value, f"{name} must set {field.upper()} (default {info.default!r})"
            assert not any(host in value for host in LOCAL_HOSTS), f"{name}: {field}={value}"
        else:
            assert not isinstance(info.default, str) or "://" not in info.default, field


def test_the_gateway_runs_in_production_mode_with_the_host_secret() -> None:
    raw = raw_environment(SERVICES["gateway"])
    assert raw["ITEMX_ENV"] == "production"
    assert re.fullmatch(r"\$\{JWT_SECRET:\?[^}]+\}", raw["JWT_SECRET"]), raw["JWT_SECRET"]
    settings = GatewaySettings(**{k.lower(): v for k, v in environment(SERVICES["gateway"]).items()
                                  if k.lower() in GatewaySettings.model_fields})
    assert settings.production
    settings.check()


def test_no_secret_is_written_in_the_compose_file() -> None:
    secret_name = re.compile(r"SECRET|PASSWORD|_PASS$|TOKEN")
    reference = re.compile(r"\$\{(\w+):\?[^}]+\}")
    for name, service in SERVICES.items():
        for key, value in raw_environment(service).items():
            if secret_name.search(key):
                assert reference.fullmatch(value), f"{name}: {key} is not from the host env"
            userinfo = re.search(r"://([^@/]*)@", value)
            if userinfo:
                password = userinfo.group(1).partition(":")[2]
                assert not password or reference.fullmatch(password), (
                    f"{name}: {key} carries a literal password"
                )
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert required == set(HOST_ENV), "the variables an operator must export"


def test_database_nodes_and_the_broker_keep_their_data_in_volumes() -> None:
    data_dirs = {name: "/var/lib/postgresql/data" for name in CITUS} | {
        "rabbitmq": "/var/lib/rabbitmq"
    }
    declared = set(COMPOSE.get("volumes") or {})
    used = []
    for name, target in data_dirs.items():
        volume = [m for m in mounts(SERVICES[name]) if m.target == target and m.named]
        assert volume, f"{name} keeps {target} in the container only"
        assert volume[0].source in declared, f"{volume[0].source} is not declared"
        used.append(volume[0].source)
    assert len(set(used)) == len(used), "two nodes share a data volume"
    assert SERVICES["rabbitmq"].get("hostname"), "RabbitMQ's data is named after its host"


def test_the_images_are_pinned() -> None:
    citus = {str(s["image"]) for s in CITUS.values()}
    assert len(citus) == 1, f"all Citus nodes run one image: {citus}"
    match = re.fullmatch(r"citusdata/citus:(\d+)\.(\d+)\.(\d+)-pg(\d+)", citus.pop())
    assert match and int(match.group(4)) >= 15, "a pinned Citus release on PostgreSQL 15+"
    assert re.fullmatch(r"rabbitmq:\d+\.\d+\.\d+-management", SERVICES["rabbitmq"]["image"])
    for name, service in SERVICES.items():
        assert not str(service.get("image", "")).endswith(":latest") or service.get("build"), name


def test_every_citus_node_allows_two_phase_commit_and_its_standby_keeps_up() -> None:
    for name, service in CITUS.items():
        settings = postgres_settings(service)
        assert int(settings.get("max_prepared_transactions", "0")) > 0, name
        assert settings.get("wal_level") in ("replica", "logical"), name
    for name, service in CITUS.items():
        primary = environment(service).get("PRIMARY_HOST")
        if primary is None:
            continue
        mine, theirs = postgres_settings(service), postgres_settings(SERVICES[primary])
        for setting in ("max_connections", "max_prepared_transactions", "max_wal_senders"):
            if setting in theirs:
                assert int(mine.get(setting, "0")) >= int(theirs[setting]), (
                    f"{name} would refuse to start: {setting} below its primary's"
                )


def test_cluster_init_registers_exactly_the_nodes_of_the_compose_file() -> None:
    job = SERVICES["cluster-init"]
    env_ = environment(job)
    workers = parse_nodes(env_["CITUS_WORKERS"])
    secondaries = parse_secondaries(env_["CITUS_SECONDARIES"])
    coordinator = urlsplit(env_["DATABASE_URL"]).hostname
    assert env_["CITUS_COORDINATOR"].split(":")[0] == coordinator
    registered = {coordinator} | {w.host for w in workers} | {s.node.host for s in secondaries}
    assert registered == set(CITUS), f"registered {sorted(registered)}, nodes {sorted(CITUS)}"
    for secondary in secondaries:
        assert secondary.primary in workers
        assert environment(SERVICES[secondary.node.host])["PRIMARY_HOST"] == secondary.primary.host
    for node in registered:
        assert job["depends_on"][node]["condition"] == "service_healthy"


def test_the_replicas_are_cloned_from_their_workers() -> None:
    slots = set()
    for name, service in CITUS.items():
        env_ = environment(service)
        files = {m.target: m.source for m in mounts(service) if not m.named}
        if name.startswith("citus-worker-"):
            assert any(t.startswith("/docker-entrypoint-initdb.d/") for t in files), name
            assert env_["REPLICATION_USER"] and env_["REPLICATION_PASSWORD"]
        if "PRIMARY_HOST" in env_:
            entrypoint = service["entrypoint"][0]
            assert files[entrypoint] == "./deploy/citus/replica-entrypoint.sh"
            volume = next(m.target for m in mounts(service) if m.named)
            assert env_["PGDATA"].startswith(volume + "/"), "PGDATA inside the volume"
            assert service["depends_on"][env_["PRIMARY_HOST"]]["condition"] == "service_healthy"
            slots.add(env_["REPLICATION_SLOT"])
    assert len(slots) == 3, "one replication slot per secondary"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_files_mounted_from_the_repository_exist(name: str) -> None:
    for mount in mounts(SERVICES[name]):
        if mount.named:
            continue
        path = ROOT / mount.source
        assert path.is_file(), f"{name} mounts missing {mount.source}"
        if path.suffix == ".sh":
            assert path.stat().st_mode & stat.S_IXUSR, f"{mount.source} is not executable"


def test_workers_scale_without_their_host_ports() -> None:
    override = load_override()["services"]
    workers_with_host_ports = {
        name for name in APP if worker_name(SERVICES[name]) and any(
            p.host for p in ports(SERVICES[name]))
    }
    assert set(override) == workers_with_host_ports
    for name in override:
        assert isinstance(override[name]["ports"], Reset) and override[name]["ports"].value == []


def test_prometheus_scrapes_every_worker_under_the_monitoring_profile() -> None:
    prometheus = SERVICES["prometheus"]
    assert prometheus.get("profiles") == ["monitoring"]
    config_file = next(m.source for m in mounts(prometheus) if m.target.endswith(".yml"))
    config = yaml.safe_load((ROOT / config_file).read_text())
    scraped = {
        (sd["names"][0], sd["port"])
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
    }
    for name in APP:
        if worker_name(SERVICES[name]):
            assert (name, _effective_port(name)) in scraped, f"{name} is not scraped"


async def test_the_read_pool_url_opens_sessions_on_the_secondaries() -> None:
    """The products worker's DATABASE_READ_URL, through the runtime's own pool: the query
    option reaches PostgreSQL as citus.use_secondary_nodes=always (plain PostgreSQL keeps
    it as a placeholder setting, which is enough to see that it arrived)."""
    read_url = environment(SERVICES["products"])["DATABASE_READ_URL"]
    options = parse_qs(urlsplit(read_url).query)["options"]
    assert options == ["-c citus.use_secondary_nodes=always"]
    local = urlsplit(env.PG_SERVER)
    here = urlsplit(read_url)._replace(scheme=local.scheme, netloc=local.netloc,
                                        path="/postgres").geturl()
    db = await Database.connect(here, min_size=1, max_size=1)
    try:
        async with db.connection() as conn:
            assert await conn.fetchval("SHOW citus.use_secondary_nodes") == "always"
    finally:
        await db.close()


# --- the image --------------------------------------------------------------------------

INSTRUCTIONS = dockerfile_instructions()


def _args() -> dict[str, str]:
    return dict(
        arguments.split("=", 1) for keyword, arguments in INSTRUCTIONS
        if keyword == "ARG" and "=" in arguments
    )


def test_the_image_is_a_slim_python_matching_the_project() -> None:
    wanted = re.search(r"(\d+\.\d+)", PYPROJECT["project"]["requires-python"]).group(1)
    bases = [a.split()[0] for k, a in INSTRUCTIONS if k == "FROM"]
    assert bases
    for base in bases:
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: _args().get(m.group(1), m.group(0)), base)
        assert re.fullmatch(rf"python:{re.escape(wanted)}(\.\d+)?-slim(-\w+)?", image), image


def test_the_image_runs_as_a_non_root_user_with_a_health_check() -> None:
    users = [a for k, a in INSTRUCTIONS if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [a for k, a in INSTRUCTIONS if k == "HEALTHCHECK"]
    assert health and not health[-1].upper().startswith("NONE")


def test_the_image_installs_the_pinned_dependencies_and_the_code() -> None:
    runs = " ".join(a for k, a in INSTRUCTIONS if k == "RUN")
    assert "pyproject.toml" in runs and "dependencies" in runs
    assert all("==" in dep for dep in PYPROJECT["project"]["dependencies"])
    copied = " ".join(a for k, a in INSTRUCTIONS if k == "COPY")
    for package in [*PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"], "sql*"]:
        assert package.rstrip("*") in copied.split(), f"the image lacks {package}"


def test_no_secret_goes_into_the_image() -> None:
    secret = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|PRIVATE", re.I)
    for keyword, arguments in INSTRUCTIONS:
        if keyword in ("ENV", "ARG", "LABEL"):
            assert not secret.search(arguments), f"{keyword} {arguments}"
        if keyword in ("COPY", "ADD"):
            assert not re.search(r"(^|\s|/)\.env\b|\.pem\b|\.key\b", arguments), arguments
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".env", ".git", ".venv"):
        assert pattern in ignored, f".dockerignore lets {pattern} into the build context"


def test_the_deployment_files_carry_no_path_of_this_machine() -> None:
    files = [ROOT / "docker-compose.yml", ROOT / "Dockerfile", ROOT / ".dockerignore",
             *sorted(Path(ROOT / "deploy").rglob("*"))]
    for path in files:
        if path.is_file():
            assert str(ROOT) not in path.read_text(), path
