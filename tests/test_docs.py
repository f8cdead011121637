"""The docs are tested: every command and config key is documented, the code is ruff-clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from crawler.config import Config, load_config
from scheduler import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "crawler" / "data" / "newswatch.toml"


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        if name == "base_dir" or name == "topics":
            continue
        key = f"{prefix}{field.alias or name}"
        inner = field.annotation
        args = getattr(inner, "__args__", ())
        nested = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else next(
            (a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        # A list of tables is `key[].field`; an optional table (`X | None`) is `key.field`.
        listed = getattr(inner, "__origin__", None) is list
        keys += _keys(nested, f"{key}[]." if listed else f"{key}.") if nested else [key]
    return keys


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented_with_help(command: str) -> None:
    assert f"newswatch {command}" in README or f"] {command}" in README, (
        f"`{command}` is missing from README.md's command table")
    assert cli.commands[command].help, f"`{command}` has no help text: add a docstring"


def test_every_config_key_is_documented() -> None:
    missing = [key for key in _keys(Config) if f"`{key}`" not in README
               and not any(f"`{part}`" in README for part in key.split(".")[-1:])]
    assert not missing, f"README.md's configuration table lacks {missing}"
    example = EXAMPLE.read_text(encoding="utf-8")
    for key in _keys(Config):
        leaf = key.rsplit(".", 1)[-1]
        assert leaf in example, f"{EXAMPLE.name} does not explain `{key}`"


def test_example_config_is_valid_and_has_every_section() -> None:
    config = load_config(EXAMPLE)
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert set(data) >= {"database", "crawl", "sources", "digest", "dedupe"}
    assert len(config.sources) >= 10


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is installed with the test extra")
def test_code_is_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff check . found problems:\n{result.stdout}"


def test_deploy_files_name_real_roles_and_a_config_that_loads() -> None:
    """The systemd units and the compose file start roles `run --role` takes, with a config that
    loads (a cluster on PostgreSQL and Redis)."""
    roles = cli.commands["run"].params[0].type.choices  # type: ignore[attr-defined]
    units = sorted((ROOT / "deploy").glob("*.service"))
    assert len(units) == 3
    for unit in units:
        start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
        assert start.split()[1] == "run" and (len(start.split()) == 2 or start.split()[3] in roles)
    compose = (ROOT / "deploy" / "cluster" / "compose.yaml").read_text()
    for role in ("scheduler", "worker"):
        assert f'command: ["run", "--role", "{role}"]' in compose
    config = load_config(ROOT / "deploy" / "cluster" / "newswatch.toml")
    assert config.cluster is not None and config.database_url.startswith("postgresql")
