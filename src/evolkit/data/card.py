"""The data set card (``README.md``) of an ``hf`` export: what was made, from what, with
which models, operators, weights and settings, at what cost, and how to make it again; and
the fixed schema (``Features``) the card declares and the export writes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._version import __version__
from evolkit.errors import missing_extra

__all__ = ["CITATIONS", "RunInfo", "card_text", "hf_features", "write_card"]

#: The method papers, cited by the card: Evol-Instruct always, the others when their
#: operators were used (by name prefix).
CITATIONS: dict[str, str] = {
    "wizardlm": """@inproceedings{xu2024wizardlm,
  title     = {{WizardLM}: Empowering Large Language Models to Follow Complex Instructions},
  author    = {Xu, Can and Sun, Qingfeng and Zheng, Kai and Geng, Xiubo and Zhao, Pu and
               Feng, Jiazhan and Tao, Chongyang and Jiang, Daxin},
  booktitle = {The Twelfth International Conference on Learning Representations},
  year      = {2024},
  note      = {arXiv:2304.12244}
}""",
    "math": """@article{luo2023wizardmath,
  title   = {{WizardMath}: Empowering Mathematical Reasoning for Large Language Models via
             Reinforced Evol-Instruct},
  author  = {Luo, Haipeng and Sun, Qingfeng and Xu, Can and Zhao, Pu and Lou, Jianguang and
             Tao, Chongyang and Geng, Xiubo and Lin, Qingwei and Chen, Shifeng and
             Zhang, Dongmei},
  journal = {arXiv preprint arXiv:2308.09583},
  year    = {2023}
}""",
    "code": """@article{luo2023wizardcoder,
  title   = {{WizardCoder}: Empowering Code Large Language Models with Evol-Instruct},
  author  = {Luo, Ziyang and Xu, Can and Zhao, Pu and Sun, Qingfeng and Geng, Xiubo and
             Hu, Wenxiang and Tao, Chongyang and Ma, Jing and Lin, Qingwei and Jiang, Daxin},
  journal = {arXiv preprint arXiv:2306.08568},
  year    = {2023}
}""",
}


@frozen
class RunInfo:
    """What a run left beside its output: settings, counts, seed source, evolkit version."""

    name: str
    settings: Mapping[str, Any]
    stats: Mapping[str, Any]
    seeds: Mapping[str, Any]
    version: str | None

    @classmethod
    def load(cls, output: Path) -> RunInfo:
        """From ``OUT.run.json``, else ``OUT.evolkit/state.json``, else counts of the rows."""
        from evolkit.engine.workdir import WorkDir, summary_path

        report = _read_json(summary_path(output))
        state = _read_json(WorkDir.for_output(output).state)
        settings = report.get("settings") or state.get("fingerprint") or {}
        stats = report.get("stats") or state.get("stats")
        if not stats:
            from evolkit.summary import load_stats

            stats = load_stats(output).to_json()
        seeds = report.get("seeds") or state.get("seeds") or {}
        return cls(output.stem, settings, stats, seeds, report.get("evolkit"))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")]
    bounds += [(1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]
    return next((label for limit, label in bounds if rows < limit), "10M<n<100M")


def hf_features() -> Any:
    """The fixed schema of the ``hf`` export, as ``datasets.Features``: the same columns
    whatever the run's flags (``metadata`` is JSON text, so any keys fit)."""
    datasets = _import_datasets()
    string = datasets.Value("string")
    return datasets.Features(
        {
            "id": string,
            "instruction": string,
            "input": string,
            "output": string,
            "parent_id": string,
            "operator": string,
            "round": datasets.Value("int32"),
            "metadata": string,
        }
    )


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise missing_extra("datasets", "hub", exc) from exc
    return datasets


def _yaml(info: RunInfo, rows: int, license: str | None) -> str:
    from huggingface_hub import DatasetCardData

    from evolkit.data.sources import HUB_PREFIX, parse_hub_spec

    source = info.seeds.get("source", "")
    data = DatasetCardData(
        license=license or info.seeds.get("license") or "unknown",
        task_categories=["text-generation"],
        tags=["evol-instruct", "synthetic", "evolkit"],
        size_categories=[_size_category(rows)],
        source_datasets=[parse_hub_spec(source).repo]
        if str(source).startswith(HUB_PREFIX)
        else None,
        configs=[
            {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
        ],
        dataset_info={
            "features": hf_features()._to_yaml_list(),
            "splits": [{"name": "train", "num_examples": rows}],
        },
    )
    return str(data.to_yaml())


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) if rows else "_none_"


def _usage_rows(usage: Mapping[str, Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (key, u.get("prompt_tokens", 0), u.get("completion_tokens", 0), f"${u.get('cost', 0):.4f}")
        for key, u in usage.items()
    ]


def _round_rows(stats: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    usage = stats.get("usage_per_round", {})
    out = []
    for r, n in stats.get("rows_per_round", {}).items():
        u = usage.get(r, {})
        tokens = (u.get("prompt_tokens", 0), u.get("completion_tokens", 0))
        out.append(("seeds" if r == "0" else r, n, *tokens, f"${u.get('cost', 0.0):.4f}"))
    return out


def _operators(info: RunInfo) -> list[tuple[Any, ...]]:
    weights = info.settings.get("operators")
    used = info.settings.get("operators_used") or sorted(
        info.stats.get("attempted_per_operator", {})
    )
    tried = info.stats.get("attempted_per_operator", {})
    kept = info.stats.get("kept_per_operator", {})
    dropped = info.stats.get("dropped_per_operator", {})
    out = []
    for name in used:
        if weights is None:
            weight: Any = 1.0
        else:
            weight = weights.get(name, weights.get(name.split(".")[0], "by kind"))
        out.append((name, weight, tried.get(name, 0), kept.get(name, 0), dropped.get(name, 0)))
    return out


def _citations(info: RunInfo) -> str:
    used = [str(n) for n in info.settings.get("operators_used") or []]
    keys = ["wizardlm"] + [k for k in ("math", "code") if any(n.startswith(k + ".") for n in used)]
    return "\n\n".join(CITATIONS[k] for k in keys)


def _repeat(info: RunInfo) -> str:
    s = info.settings
    args = [repr(info.seeds.get("source", "SEEDS"))]
    for key in ("rounds", "model", "seed", "operators", "filters", "respond", "respond_seeds"):
        if key in s:
            args.append(f"{key}={s[key]!r}")
    for key in ("respond_system", "mutate_params", "respond_params"):
        if s.get(key) is not None:
            args.append(f"{key}={s[key]!r}")
    for key in ("fields", "layout_given"):
        if info.seeds.get(key):
            args.append(f"{'layout' if key == 'layout_given' else key}={info.seeds[key]!r}")
    body = ",\n    ".join([*args, f"output={info.name + '.jsonl'!r}"])
    return f"import evolkit\n\nevolkit.evolve(\n    {body},\n)"


def card_text(
    info: RunInfo,
    *,
    rows: int,
    missing: int = 0,
    left_out: bool = False,
    license: str | None = None,
) -> str:
    """The whole card: YAML header and Markdown body."""
    st, seeds = info.stats, info.seeds
    usage = st.get("usage_per_model", {})
    total_cost = sum(u.get("cost", 0.0) for u in usage.values())
    total_tokens = sum(
        u.get("prompt_tokens", 0) + u.get("completion_tokens", 0) for u in usage.values()
    )
    models = sorted({*usage, *([info.settings["model"]] if info.settings.get("model") else [])})
    round_rows = _round_rows(st)
    answer_note = ""
    if missing:
        answer_note = f"\n\n**{missing} rows have no response**" + (
            " and were left out of this export." if left_out else " (their `output` is null)."
        )
    sections = [
        f"# {info.name}",
        "An instruction data set grown with Evol-Instruct by evolkit "
        f"{info.version or __version__}: "
        f"{st.get('seeds', 0)} seed instructions rewritten over {st.get('rounds', 0)} rounds into "
        f"harder (in depth) and new (in breadth) ones, failed rewrites removed by the eliminator. "
        f"{rows} rows in this export.{answer_note}",
        "## Models\n\n" + (", ".join(f"`{m}`" for m in models) or "_not recorded_"),
        "## Operators and weights\n\n"
        + _table(("operator", "weight", "tried", "kept", "dropped"), _operators(info)),
        "## Rows per round\n\n"
        + _table(("round", "rows", "prompt tokens", "completion tokens", "cost"), round_rows),
        "## Drop reasons\n\n"
        + _table(("reason", "count"), list(st.get("drop_reasons", {}).items()))
        + "\n\nBy stage:\n\n"
        + _table(("stage", "count"), list(st.get("drops_per_stage", {}).items())),
        "## Token use and cost\n\n"
        + _table(("model", "prompt tokens", "completion tokens", "cost"), _usage_rows(usage))
        + f"\n\nTotal: {total_tokens} tokens, ${total_cost:.4f}; calls: "
        + json.dumps(st.get("calls", {})),
        "## Seed data\n\n"
        + _table(
            ("", ""),
            [
                ("source", f"`{seeds.get('source', 'not recorded')}`"),
                ("rows", seeds.get("rows", st.get("seeds", ""))),
                ("layout", str(seeds.get("layout") or "evolkit rows").removeprefix("layout ")),
                ("licence", seeds.get("license") or "unknown: check the seed data's terms"),
            ],
        ),
        "## Columns\n\n`id` (content hash), `instruction`, `input`, `output` (null when not "
        "answered), `parent_id` (the row it was evolved from; null for a seed), `operator`, "
        "`round` (0 for a seed), `metadata` (JSON text).",
        "## Run configuration\n\nevolkit "
        + f"{info.version or __version__}; the full settings of the run:\n\n```json\n"
        + json.dumps(dict(info.settings), indent=2, sort_keys=True)
        + "\n```\n\nTo make it again:\n\n```python\n"
        + _repeat(info)
        + "\n```",
        "## Citation\n\n```bibtex\n" + _citations(info) + "\n```",
    ]
    return f"---\n{_yaml(info, rows, license)}\n---\n\n" + "\n\n".join(sections) + "\n"


def write_card(
    path: Path,
    info: RunInfo,
    *,
    rows: int,
    missing: int = 0,
    left_out: bool = False,
    license: str | None = None,
) -> None:
    from evolkit.io import atomic_writer

    text = card_text(info, rows=rows, missing=missing, left_out=left_out, license=license)
    with atomic_writer(path) as fh:
        fh.write(text)
