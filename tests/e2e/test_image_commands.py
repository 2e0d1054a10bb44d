"""Every docker-compose.yaml service built from the image runs a command the image has.

Without a Docker engine, the image's environment is rebuilt as the Dockerfile builds it: its
final stage read step by step (the same Python, the same COPY steps into the work directory, the
same ``pip install``) into a fresh venv. Then each service's command, as ``docker compose
config`` resolves it with the service's own environment, runs there with ``--help`` from the
work directory; a ``bash -c`` script is checked step by step, and a ``python -c`` step by its
imports. The install reuses pip's cache (the image keeps none): about 3 minutes with a warm
cache. Run by ``make test-image``.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.unit.test_compose_agrees import SECRETS, compose_bin

pytestmark = [pytest.mark.image, pytest.mark.slow, pytest.mark.timeout(1800)]

COMPOSE = REPO / "docker-compose.yaml"
#: what the rebuilt image's folders stand for: the image's paths -> folders under the venv's root
IMAGE_DIRS = ("/app", "/data")


def image_services() -> list[str]:
    """The compose services that run the project's own image (not postgres, redis...)."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return sorted(n for n, s in services.items() if "build" in s)


@dataclass
class FinalStage:
    """What the Dockerfile's last stage does to the environment."""

    python: str  # "3.11" from python:3.11-slim-...
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    # ("copy", [sources..., dest]) with sources in the build context, ("stage", ...) from an
    # earlier stage, ("run", [argv]) for a pip install
    steps: list[tuple[str, list[str]]] = field(default_factory=list)


def read_dockerfile(path: Path) -> FinalStage:
    """Parse the last stage of ``path``; refuse instructions this rebuild cannot follow."""
    lines: list[str] = []
    for raw in path.read_text().replace("\\\n", " ").splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            lines.append(raw.strip())
    last = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    base = lines[last].split()[1]
    assert base.startswith("python:"), f"Dockerfile: final stage is {base}, expected python:X.Y"
    stage = FinalStage(python=".".join(base.split(":")[1].split("-")[0].split(".")[:2]))
    for line in lines[last + 1 :]:
        op, _, rest = line.partition(" ")
        words = shlex.split(rest)
        match op.upper():
            case "WORKDIR":
                stage.workdir = words[0]
            case "ENV":
                stage.env.update(w.partition("=")[::2] for w in words)
            case "COPY" if words[0].startswith("--from="):
                stage.steps.append(("stage", words[1:]))
            case "COPY":
                stage.steps.append(("copy", words))
            case "RUN" if words[:2] == ["pip", "install"]:
                stage.steps.append(("run", words))
            case "RUN" if "pip" in words or "python" in words:
                pytest.fail(f"Dockerfile: cannot rebuild this step without Docker: {line}")
            case "RUN" | "USER" | "EXPOSE" | "LABEL" | "CMD" | "ENTRYPOINT":
                pass  # users, folders and metadata: nothing a command's presence depends on
            case _:
                pytest.fail(f"Dockerfile: unexpected instruction in the final stage: {line}")
    return stage


@dataclass
class Image:
    root: Path
    venv: Path
    stage: FinalStage

    def path(self, image_path: str) -> Path:
        """The rebuilt folder that stands for ``image_path`` (/app, /data...)."""
        return self.root / image_path.strip("/")

    def localise(self, value: str) -> str:
        for image_dir in IMAGE_DIRS:
            if value == image_dir or value.startswith(image_dir + "/"):
                return str(self.path(image_dir)) + value[len(image_dir) :]
        return value


def copy_into(image: Image, sources: list[str], dest: str, base: Path) -> None:
    """``COPY sources... dest`` from the build context ``base`` into the rebuilt image."""
    target = image.path(dest) if dest.startswith("/") else image.path(image.stage.workdir) / dest
    for source in sources:
        src = base / source.lstrip("/")
        if src.is_dir():
            ignore = shutil.ignore_patterns("node_modules", "__pycache__", "*.pyc")
            shutil.copytree(src, target, ignore=ignore, dirs_exist_ok=True)
        elif src.exists():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / src.name if dest.endswith("/") else target)
        else:
            pytest.fail(f"Dockerfile: COPY {source}: not in the repository")


def run(
    argv: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a process group of its own; the group is stopped if it overruns."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        out, err = proc.communicate()
        pytest.fail(f"{shlex.join(argv)}: still running after {timeout:.0f} s\n{err[-2000:]}")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    stage = read_dockerfile(REPO / "Dockerfile")
    python = shutil.which(f"python{stage.python}")
    if python is None:
        pytest.fail(f"python{stage.python} (the image's Python) is not installed")
    with tempfile.TemporaryDirectory(prefix="eq-image-") as tmp:
        root = Path(tmp)
        img = Image(root=root, venv=root / "venv", stage=stage)
        for image_dir in IMAGE_DIRS:
            img.path(image_dir).mkdir(parents=True)
        # the image keeps no pip cache (PIP_NO_CACHE_DIR); the rebuild reuses the machine's
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_NO_CACHE")}
        env["PATH"] = f"{img.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env.pop("PYTHONPATH", None)
        made = run([python, "-m", "venv", str(img.venv)], env, timeout=300)
        assert made.returncode == 0, made.stderr
        workdir = img.path(stage.workdir)
        for kind, words in stage.steps:
            if kind == "copy":
                copy_into(img, words[:-1], words[-1], REPO)
            elif kind == "stage":
                # another stage's output (the built dashboard): its folder; no command needs it
                (workdir / words[-1]).mkdir(parents=True, exist_ok=True)
            else:
                pip = [str(img.venv / "bin" / "pip"), *words[1:], "--quiet"]
                done = run(pip, env, cwd=workdir, timeout=1500)
                assert done.returncode == 0, done.stderr[-4000:]
        yield img


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yaml as ``docker compose config`` resolves it (secrets set)."""
    args = [compose_bin(), "-f", str(COMPOSE), "config", "--format", "json"]
    out = run(args, {"PATH": "/usr/bin:/bin", **SECRETS})
    assert out.returncode == 0, out.stderr
    spec: dict[str, Any] = json.loads(out.stdout)
    return spec


def entry_points(command: list[str]) -> list[list[str]]:
    """The programs a command runs: itself, or each step of a ``bash -c`` script."""
    if command[:2] not in (["bash", "-c"], ["sh", "-c"]):
        return [command]
    steps: list[list[str]] = [[]]
    for word in shlex.split(command[2]):
        if word in ("&&", "||", ";"):
            steps.append([])
        else:
            steps[-1].append(word)
    return [s for s in steps if s]


def test_compose_lists_the_image_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    ours = [n for n, s in services.items() if s.get("image", "").startswith("easyquant")]
    assert sorted(ours) == image_services()
    for name in ours:
        assert services[name].get("command"), f"{name}: no command (the image has no default)"
        assert not services[name].get("entrypoint"), name


@pytest.mark.parametrize("service", image_services())
def test_service_command_answers_help_in_the_image(
    image: Image, compose: dict[str, Any], service: str
) -> None:
    spec = compose["services"][service]
    # the image's ENV, then the service's environment over it, as a container gets them
    env = {k: image.localise(v) for k, v in image.stage.env.items()}
    given = spec.get("environment") or {}
    env |= {k: image.localise(str(v)) for k, v in given.items() if v is not None}
    home = image.root / "home"
    home.mkdir(exist_ok=True)
    env |= {"PATH": f"{image.venv / 'bin'}:/usr/bin:/bin", "HOME": str(home)}
    cwd = image.path(spec.get("working_dir") or image.stage.workdir)
    steps = entry_points(spec["command"])
    assert steps, f"{service}: empty command"
    for argv in steps:
        exe = shutil.which(argv[0], path=env["PATH"])
        # the program comes from the image's environment, not from the machine
        assert exe is not None and Path(exe).parent == image.venv / "bin", (service, argv[0])
        if argv[:2] == ["python", "-c"]:
            # a script runs against services; what it needs of the image is what it imports
            tree = ast.parse(argv[2])
            imports: list[ast.stmt] = [
                n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
            ]
            assert imports, f"{service}: python -c imports nothing"
            check = [exe, "-c", ast.unparse(ast.Module(body=imports, type_ignores=[]))]
            done = run(check, env, cwd=cwd)
            assert done.returncode == 0, (service, done.stderr[-3000:])
            continue
        done = run([exe, *argv[1:], "--help"], env, cwd=cwd)
        shown = shlex.join(argv)
        assert done.returncode == 0, f"{service}: {shown} --help failed\n{done.stderr[-3000:]}"
        usage = done.stdout.lower()
        assert "usage:" in usage, f"{service}: {shown} --help printed no usage\n{done.stdout}"
        # the help of the sub-command the service runs, not of the program as a whole
        words = [w for w in argv[1:3] if not w.startswith("-") and w != "-m"]
        assert all(w.lower() in usage for w in words), (service, words, done.stdout[:400])
