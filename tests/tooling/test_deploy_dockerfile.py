"""The Dockerfile: hadolint-clean, its build stage replayed in a scratch root, HEALTHCHECK run."""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from publisher.errors import ConfigError
from publisher.settings import load_settings
from tests.conftest import tool

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    result = []
    for entry in logical:
        keyword, _, args = entry.strip().partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """Instructions of each named stage (FROM ... AS name), in order."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, args in instructions(text):
        if keyword == "FROM":
            current = found.setdefault(args.split()[-1], [])
        elif current is not None:
            current.append((keyword, args))
    return found


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
        out += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out)


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also matches a parent dir."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        regex = _pattern_regex(raw.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not raw.startswith("!")
    return excluded


def build_context(dest: Path) -> None:
    """Copy what `docker build .` would send: the repo filtered by .dockerignore."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if not (dirpath == str(ROOT) and d in (".git", ".venv"))]
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(ROOT).as_posix()
            if not dockerignore_excludes(rel, patterns):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


def test_hadolint_reports_nothing() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not result.stdout.strip(), result.stdout


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nCMD python app.py\n")
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # `latest` tag


def test_dockerfile_has_the_production_properties() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    parsed = stages(text)
    assert set(parsed) == {"build", "runtime"}, "multi-stage: build and runtime"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base is not None, "the base image is an ARG with a default"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), "pinned slim 3.11 tag"
    runtime = dict(parsed["runtime"])
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", runtime["USER"]), "numeric, non-root user"
    assert json.loads(runtime["ENTRYPOINT"]) == ["partner-publisher"], (
        "exec form: PID 1 gets signals"
    )
    assert json.loads(runtime["CMD"])[:1] == ["run"]
    assert "/healthz" in runtime["HEALTHCHECK"]
    for label in ("title", "description", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{label}=" in runtime["LABEL"]
    assert "/var/lib/partner-publisher" in runtime["VOLUME"]


def test_dockerignore_sends_only_what_the_build_copies(tmp_path: Path) -> None:
    build_context(tmp_path)
    sent = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"requirements.lock", "pyproject.toml", "config/container.yaml"} <= sent
    assert "publisher/settings/__init__.py" in sent
    assert not any(
        p.startswith(("tests/", "deploy/", "bench/")) or "__pycache__" in p for p in sent
    )


@pytest.fixture(scope="module")
def replayed_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the build stage's steps as written, with `/` mapped to a scratch directory.

    ENV values and WORKDIR/COPY destinations that are absolute paths move under the scratch
    root; RUN lines use only those variables and relative paths (the Dockerfile promises it),
    so each RUN executes unchanged. `python` is the interpreter running the tests (3.11).
    """
    root = tmp_path_factory.mktemp("image-root")
    context = tmp_path_factory.mktemp("context")
    build_context(context)
    shim = tmp_path_factory.mktemp("bin")
    (shim / "python").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
    cwd = root
    for keyword, args in stages(DOCKERFILE.read_text(encoding="utf-8"))["build"]:
        if keyword == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = str(root) + value if value.startswith("/") else value
        elif keyword == "WORKDIR":
            cwd = root / args.lstrip("/")
            cwd.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            *sources, dest = shlex.split(args)
            target = cwd / dest if not dest.startswith("/") else root / dest.lstrip("/")
            for source in sources:
                src = context / source
                if src.is_dir():
                    shutil.copytree(
                        src, target if dest != "./" else cwd / source, dirs_exist_ok=True
                    )
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target / src.name if dest.endswith("/") else target)
        elif keyword == "RUN":
            result = subprocess.run(
                ["/bin/sh", "-c", args],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, (
                f"RUN {args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        else:
            raise AssertionError(f"the replay does not know {keyword}; teach it or avoid it")
    return root


def test_build_stage_installs_a_working_daemon(replayed_build: Path) -> None:
    venv = replayed_build / "opt/partner-publisher"
    listing = (
        "import importlib.metadata as m; "
        "print(*(f'{d.name}=={d.version}' for d in m.distributions()), sep=chr(10))"
    )
    result = subprocess.run(
        [str(venv / "bin/python"), "-c", listing], capture_output=True, text=True, check=True
    )
    locked = [
        line.lower().replace("_", "-")
        for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    installed = sorted(
        line.lower().replace("_", "-")
        for line in result.stdout.splitlines()
        if not line.lower().startswith("partner")
    )
    assert installed == sorted(locked), "the image holds exactly the locked packages"
    help_text = subprocess.run(
        [str(venv / "bin/partner-publisher"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "run" in help_text


def test_runtime_stage_refers_to_what_the_build_made(replayed_build: Path) -> None:
    runtime = stages(DOCKERFILE.read_text(encoding="utf-8"))["runtime"]
    copies = [shlex.split(args) for keyword, args in runtime if keyword == "COPY"]
    from_build = [c for c in copies if c[0] == "--from=build"]
    assert from_build
    assert all((replayed_build / c[1].lstrip("/")).is_dir() for c in from_build)
    entrypoint = json.loads(dict(runtime)["ENTRYPOINT"])[0]
    assert (replayed_build / "opt/partner-publisher/bin" / entrypoint).exists()


def test_baked_config_is_valid_and_keeps_data_on_the_volume() -> None:
    settings = load_settings(ROOT / "config/container.yaml", {"PUBLISHER__INGEST__TOKEN": "t0ken"})
    assert str(settings.input.path).startswith("/var/lib/partner-publisher/")
    assert str(settings.dead_letter.path).startswith("/var/lib/partner-publisher/")
    assert settings.admin.port == 9464
    assert settings.ingest.port == 8088
    # Off loopback without a token the daemon must refuse to start.
    with pytest.raises(ConfigError, match="token"):
        load_settings(ROOT / "config/container.yaml", {})


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_healthcheck_command_follows_healthz(health_server: http.server.HTTPServer) -> None:
    runtime = dict(stages(DOCKERFILE.read_text(encoding="utf-8"))["runtime"])
    command = json.loads(runtime["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert command[0] == "python"
    env = {**os.environ, "PUBLISHER__ADMIN__PORT": str(health_server.server_address[1])}
    run = [sys.executable, *command[1:]]
    assert subprocess.run(run, env=env, capture_output=True, check=False).returncode == 0
    _Health.status = 503
    try:
        assert subprocess.run(run, env=env, capture_output=True, check=False).returncode != 0
    finally:
        _Health.status = 200


def test_requirements_lock_matches_the_tested_virtualenv() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy/scripts/lock_requirements.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
