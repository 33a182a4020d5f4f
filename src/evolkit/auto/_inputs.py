"""What an optimisation reads and checks before it starts: the seed and dev sets (the dev set
held out), and the settings fingerprint that a resumed optimisation must match."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from evolkit._types import Instruction
from evolkit.errors import ConfigError
from evolkit.io import atomic_writer, read_instructions

__all__ = ["Data", "check_state", "digest", "read_sets"]

Data = Iterable[Instruction | str] | str | os.PathLike[str]
STATE_VERSION = 1


def _instructions(data: Data, what: str) -> list[Instruction]:
    if isinstance(data, (str, os.PathLike)):
        items: Iterable[Instruction | str] = read_instructions(data)
    else:
        items = data
    seen: dict[str, Instruction] = {}
    for item in items:
        inst = Instruction(text=item) if isinstance(item, str) else item
        seen.setdefault(inst.id, attrs.evolve(inst, parent_id=None, operator=None, round=0))
    if not seen:
        raise ConfigError(f"no {what} instructions: the {what} input is empty")
    return list(seen.values())


def digest(instructions: Sequence[Instruction]) -> str:
    return hashlib.sha256("\n".join(i.id for i in instructions).encode()).hexdigest()


def read_sets(seeds: Data, dev: Data) -> tuple[list[Instruction], list[Instruction]]:
    seed_set, dev_set = _instructions(seeds, "seed"), _instructions(dev, "dev")
    shared = {i.id for i in seed_set} & {i.id for i in dev_set}
    if shared:
        raise ConfigError(
            f"{len(shared)} dev instructions are also seeds: the dev set must be held out "
            "(disjoint from the seeds)"
        )
    return seed_set, dev_set


def _flat(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fingerprint.items():
        if isinstance(value, Mapping):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def check_state(workdir: Path, fingerprint: Mapping[str, Any], overwrite: bool) -> None:
    """Refuse to resume an optimisation run with other settings (unless ``overwrite``)."""
    state_file = workdir / "optimize.json"
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else None
    same = state is not None and state.get("version") == STATE_VERSION
    if state is not None and not overwrite:
        old, new = _flat(state.get("fingerprint", {})), _flat(json.loads(json.dumps(fingerprint)))
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed or not same:
            raise ConfigError(
                f"{workdir} holds an optimisation with different settings "
                f"({', '.join(changed) or 'version'}): resume with the same settings, or pass "
                "--overwrite / a new output path"
            )
    if overwrite and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    with atomic_writer(state_file) as fh:
        json.dump({"version": STATE_VERSION, "fingerprint": dict(fingerprint)}, fh, indent=2)
