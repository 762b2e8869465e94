"""compose.yaml and deploy/Caddyfile: what they wire together, and what the README says of
them (read as files: no Docker, no Caddy needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_PATHS = {"/stripe/webhook", "/telegram/webhook"}


# What an owner puts in .env for compose (a fake password, an example domain).
OWNER_VALUES = {"SHOP_DOMAIN": "shop.example.com", "POSTGRES_PASSWORD": "not-a-real-password"}


def compose() -> dict[str, Any]:
    """compose.yaml as Compose reads it with OWNER_VALUES: ${NAME} and ${NAME:?why} replaced."""
    text = (ROOT / "compose.yaml").read_text()
    loaded = yaml.safe_load(
        re.sub(r"\$\{(\w+)(?::\?[^}]*)?\}", lambda found: OWNER_VALUES[found[1]], text)
    )
    assert isinstance(loaded, dict)
    return loaded


def bots(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from the repository's Dockerfile: the bot's replicas."""
    return {name: service for name, service in services.items() if "build" in service}


def deploy_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("\n## Deploy\n", 1)[1].split("\n## ", 1)[0]


def caddyfile() -> str:
    return (ROOT / "deploy" / "Caddyfile").read_text()


def test_two_replicas_in_webhook_mode_share_the_postgres_service() -> None:
    services = compose()["services"]
    replicas = bots(services)
    assert len(replicas) == 2
    settings = {name.upper() for name in Settings.model_fields}
    for name, service in replicas.items():
        assert service["build"] in (".", {"context": "."}), name
        environment = service["environment"]
        # A misspelt setting would be ignored by the bot: each one must be a real setting.
        assert set(environment) <= settings, (name, set(environment) - settings)
        assert environment["TELEGRAM_MODE"] == "webhook"
        database = urlsplit(environment["DATABASE_URL"])
        assert database.scheme == "postgresql"
        assert database.hostname in services
        assert "postgres" in services[database.hostname]["image"]
        assert service["depends_on"][database.hostname]["condition"] == "service_healthy"
        assert environment["PUBLIC_BASE_URL"] == f"https://{OWNER_VALUES['SHOP_DOMAIN']}"


def test_each_replica_is_checked_on_readyz_by_compose_and_by_caddy() -> None:
    services = compose()["services"]
    replicas = bots(services)
    caddy = next(service for service in services.values() if "caddy" in service["image"])
    mounted = {volume.split(":")[0]: volume.split(":")[1] for volume in caddy["volumes"]}
    assert mounted["./deploy/Caddyfile"] == "/etc/caddy/Caddyfile"
    text = caddyfile()
    upstreams = re.search(r"^\s*reverse_proxy (.+?) \{", text, re.MULTILINE)
    assert upstreams is not None
    wanted = {f"{name}:{service['environment']['HTTP_PORT']}" for name, service in replicas.items()}
    assert set(upstreams.group(1).split()) == wanted
    assert re.search(r"^\s*health_uri /readyz$", text, re.MULTILINE)
    matcher = re.search(r"^\s*@webhooks path (.+)$", text, re.MULTILINE)
    assert matcher is not None and set(matcher.group(1).split()) == WEBHOOK_PATHS
    for name, service in replicas.items():
        check = " ".join(service["healthcheck"]["test"])
        port = service["environment"]["HTTP_PORT"]
        assert f"http://127.0.0.1:{port}/readyz" in check, name
    # The domain Caddy gets a certificate for is the bots' public address.
    assert text.count("{$SHOP_DOMAIN} {") == 1
    assert caddy["environment"]["SHOP_DOMAIN"] == OWNER_VALUES["SHOP_DOMAIN"]


def test_the_readme_names_what_compose_and_caddy_use() -> None:
    section = deploy_section()
    services = compose()["services"]
    for name in services:
        assert f"`{name}`" in section or name == "caddy", name
    variables = set(re.findall(r"\$\{(\w+)", (ROOT / "compose.yaml").read_text()))
    assert variables == set(OWNER_VALUES)
    for variable in variables:
        assert variable in section, variable
    for path in [*WEBHOOK_PATHS, "/readyz", "compose.yaml", "deploy/Caddyfile", "copy-db --to"]:
        assert path in section, path
