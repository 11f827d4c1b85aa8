"""The tree reads as a ticket travels: api → data layer → workers → agent. These rules keep it so."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("agent", "app", "chalice_app", "datalayer", "infra", "ops", "workers", "tests", "bench", "tools")


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute and dotted (``from a.b import c`` gives ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def ours(name: str) -> str | None:
    top = name.split(".")[0]
    return top if top in OURS else None


def test_only_app_py_imports_the_rest_api() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in [ROOT / "app.py", *modules("agent", "datalayer", "workers", "infra", "ops", "bench", "tools")]
        if any(ours(name) == "chalice_app" for name in imports_of(path))
    ]
    assert offenders == ["app.py"]


def test_the_data_layer_imports_nothing_else_of_ours() -> None:
    for path in modules("datalayer"):
        foreign = {name for name in imports_of(path) if ours(name) not in (None, "datalayer")}
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


@pytest.mark.parametrize("package", ["workers", "agent"])
def test_workers_and_the_brain_use_the_data_layer_never_the_tooling(package: str) -> None:
    for path in modules(package):
        foreign = {name for name in imports_of(path) if ours(name) in ("infra", "ops", "tests", "bench", "tools")}
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


AGENT_TIER = ROOT / "agent" / "llm"
BEDROCK_PROVIDER = AGENT_TIER / "providers" / "bedrock.py"
STRANDS_MODULES = {AGENT_TIER / "routing_agent.py", AGENT_TIER / "tools.py", *(AGENT_TIER / "providers").glob("*.py")}


def test_the_brain_has_no_aws_inside() -> None:
    """The brain reads settings and the shared types; AWS is reached by the workers, and by the agent tier's tools
    only through the stores the worker hands them. The one exception is the Bedrock provider's client."""
    allowed = ("datalayer.types", "datalayer.settings", "datalayer.errors")
    for path in modules("agent"):
        names = imports_of(path)
        if path != BEDROCK_PROVIDER:
            assert not {n for n in names if n.split(".")[0] in ("boto3", "botocore")}, path.relative_to(ROOT)
        reached = {n for n in names if ours(n) == "datalayer" and not n.startswith(allowed)}
        assert not reached, f"{path.relative_to(ROOT)} imports {sorted(reached)}"


def test_only_the_agent_tier_runner_tools_and_providers_import_strands() -> None:
    """strands (and the openai SDK under it) costs half a second and more to import: the fast path never pays."""
    for path in modules("agent", "datalayer", "workers", "chalice_app"):
        sdk = {n for n in imports_of(path) if n.split(".")[0] in ("strands", "openai")}
        assert not sdk or path in STRANDS_MODULES, f"{path.relative_to(ROOT)} imports {sorted(sdk)}"


def test_each_table_is_laid_out_once() -> None:
    """Key schemas and index names are spelled in datalayer/tables.py only; everything else reads them."""
    for path in modules("chalice_app", "datalayer", "workers", "infra", "ops", "agent"):
        if path.name == "tables.py":
            continue
        text = path.read_text(encoding="utf-8")
        for literal in ('"by_customer"', '"by_team"', '"by_status"', '"KeyType": "HASH"'):
            assert literal not in text or (path.name == "resources.py" and "KeyType" in literal), (path, literal)


def test_importing_the_app_never_loads_strands() -> None:
    """Every Lambda imports app.py; only the agent worker, when it builds its agent, may pay for strands."""
    import subprocess
    import sys

    code = "import sys, app, workers.agent; print(sorted(m for m in sys.modules if m.split('.')[0] == 'strands'))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
