"""Dataset configs: validated into ``DatasetConfig`` at load time.

AISBench dataset files define lists whose variable names end in ``_datasets``; each entry is a dict
such as ``dict(abbr='gsm8k', type=GSM8KDataset, path='ais_bench/datasets/gsm8k',
reader_cfg=dict(input_columns=['question'], output_column='answer', test_range='[0:8]'),
infer_cfg=dict(prompt_template=dict(type=PromptTemplate, template=...), ...))``.
Synthetic entries carry ``config=<AISBench synthetic_config dict>`` (``Type`` ``string`` or
``tokenid``) and our optional ``seed``. ShareGPT entries may set ``disable_shuffle`` and the
inferencer's ``infer_mode``; trace entries (``MooncakeTraceDataset``) ``random_seed``, ``block_size``
and the ``fixed_schedule_*`` window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ais_bench.benchmark.datasets import AISBENCH_DATASETS
from ais_bench.benchmark.openicl.icl_prompt_template import AISBENCH_ROLES
from ais_bench.config.loader import load_config_file
from ais_bench.config.resolve import DEFAULT_DATASET_SUFFIX
from ais_bench.config.validation import (
    check_bool,
    check_choice,
    check_dict,
    check_int,
    check_known_keys,
    check_name,
    check_number,
    check_path_text,
    check_str,
    display_path,
    missing,
    not_allowed,
    plain_data,
)
from ais_bench.datasets import MOONCAKE_TRACE, SHAREGPT, SYNTHETIC
from ais_bench.datasets.selection import parse_test_range
from ais_bench.datasets.sharegpt import INFER_MODES
from ais_bench.datasets.synthetic import (
    MAX_LENGTH,
    MAX_REQUEST_COUNT,
    Gaussian,
    LengthDistribution,
    StringSpec,
    SyntheticSpec,
    TokenIdSpec,
    Zipf,
)
from ais_bench.datasets.trace import TraceOptions
from ais_bench.errors import ConfigError

_FIELDS = (
    "abbr", "type", "path", "reader_cfg", "infer_cfg", "config", "seed", "random_seed", "disable_shuffle",
    "block_size", "fixed_schedule_auto_offset", "fixed_schedule_start_offset", "fixed_schedule_end_offset",
)
#: AISBench fields accepted and not used: ``generated_prompts_path`` (we keep no prompt cache) and
#: ``model_path`` (the tokenizer is the model config's ``path``).
_IGNORED = frozenset({"eval_cfg", "name", "generated_prompts_path", "model_path"})
_READER_FIELDS = ("input_columns", "output_column", "test_range", "train_split", "test_split")
#: Keys of AISBench's ``synthetic_config`` and its parts (``TrustRemoteCode`` accepted, not used).
_SYNTHETIC_FIELDS = ("Type", "RequestCount", "TrustRemoteCode", "StringConfig", "TokenIdConfig")
_STRING_FIELDS = ("Input", "Output")
_LENGTH_FIELDS = ("Method", "Params")
_PARAM_FIELDS = ("MinValue", "MaxValue", "Mean", "Var", "Alpha")
_TOKEN_ID_FIELDS = ("RequestSize", "PrefixLen")

Template = str | tuple[dict[str, str], ...]


@dataclass(frozen=True)
class DatasetConfig:
    """One validated dataset entry.

    ``type``: the AISBench class the config named; ``kind``: what it means, the tool's name of the
    dataset kind (the key of ``ais_bench.datasets.LOADERS``), which the run uses.
    ``template``: the prompt template (a string, or chat messages with ``{column}`` placeholders);
    None = the loader's default. ``test_range``: AISBench slice text such as ``'[0:8]'`` or None;
    ``rows``: the slice of rows it selects (what the loaders use).
    ``synthetic``: the generator spec for ``SyntheticDataset``. ``seed``: the random seed
    (``seed`` or AISBench ``random_seed``). ``disable_shuffle`` / ``infer_mode``: ShareGPT order and
    multi-turn mode. ``trace``: the options of a ``MooncakeTraceDataset``. ``raw``: the entry as
    written (for the config dump).
    """

    abbr: str
    type: type
    kind: str
    path: str = ""
    test_range: str | None = None
    rows: slice | None = None
    input_columns: tuple[str, ...] = ()
    template: Template | None = None
    synthetic: SyntheticSpec | None = None
    seed: int | None = None
    disable_shuffle: bool = True
    infer_mode: str = "every"
    trace: TraceOptions | None = None
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def prompt_format(self) -> str:
        """``"str"`` for string prompts, ``"chat"`` for message lists."""
        if self.kind == SHAREGPT:
            return "chat"
        if self.synthetic is not None or self.trace is not None or isinstance(self.template, str):
            return "str"
        return "chat"

    def to_dump_dict(self) -> dict[str, Any]:
        dumped: dict[str, Any] = plain_data(self.raw)
        return dumped


def load_datasets(path: str | Path, suffix: str = DEFAULT_DATASET_SUFFIX) -> list[DatasetConfig]:
    """Concatenate every top-level list whose variable name ends with ``suffix``, validated."""
    source = display_path(path)
    namespace = load_config_file(path)
    names = [n for n in namespace if n.endswith(suffix)]
    if not names:
        found = ", ".join(sorted(namespace)) or "none"
        raise ConfigError(f"{source}: no variable ending in '{suffix}' (variables: {found})")
    out: list[DatasetConfig] = []
    for name in names:
        out += build_datasets(namespace[name], source, name)
    if not out:
        raise ConfigError(f"{source}: {', '.join(names)} holds no dataset (an empty list)")
    return out


def build_datasets(entries: Any, source: str, variable: str = "datasets") -> list[DatasetConfig]:
    """Validate an already-loaded list of dataset dicts."""
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, (list, tuple)):
        raise not_allowed(source, variable, entries, "a list of dataset dicts")
    return [validate_dataset(e, source, f"{variable}[{i}]") for i, e in enumerate(entries)]


#: The dataset classes a config may name, by class name (for messages and dotted-name lookups).
_DATASET_CLASSES = {cls.__name__: cls for cls in AISBENCH_DATASETS}


def _dataset_type(source: str, where: str, value: Any) -> tuple[type, str]:
    """The AISBench class of ``type`` (the class, or its dotted name as a config dump writes it;
    older dumps: ``ais_bench.datasets.dataset_types``) and the tool's name of that dataset kind."""
    if isinstance(value, str):
        value = _DATASET_CLASSES.get(value.rsplit(".", 1)[-1], value)
    if not isinstance(value, type) or value not in AISBENCH_DATASETS:
        raise not_allowed(source, f"{where}.type", value, "one of " + ", ".join(_DATASET_CLASSES))
    return value, AISBENCH_DATASETS[value]


def validate_dataset(d: Any, source: str, where: str = "datasets[0]") -> DatasetConfig:
    """Validate one dataset dict; the first problem raises a one-line ``ConfigError``."""
    if not isinstance(d, dict):
        raise not_allowed(source, where, d, "a dict of dataset fields")
    check_known_keys(source, where, d, _FIELDS, _IGNORED)
    if "type" not in d:
        raise missing(source, f"{where}.type", "one of " + ", ".join(_DATASET_CLASSES))
    if "abbr" not in d:
        raise missing(source, f"{where}.abbr", "a non-empty string (the dataset's name in results)")
    values: dict[str, Any] = {"source": source, "raw": d}
    values["type"], values["kind"] = _dataset_type(source, where, d["type"])
    values["abbr"] = check_name(source, f"{where}.abbr", d["abbr"])
    if "path" in d:
        values["path"] = check_path_text(source, f"{where}.path", d["path"])
    reader = d.get("reader_cfg")
    reader = {} if reader is None else check_dict(source, f"{where}.reader_cfg", reader)
    check_known_keys(source, f"{where}.reader_cfg", reader, _READER_FIELDS)
    for key in ("output_column", "train_split", "test_split"):
        if reader.get(key) is not None:
            check_str(source, f"{where}.reader_cfg.{key}", reader[key])
    values["test_range"], values["rows"] = _check_test_range(
        source, f"{where}.reader_cfg.test_range", reader.get("test_range")
    )
    if "input_columns" in reader:
        columns = reader["input_columns"]
        if isinstance(columns, str):
            columns = [columns]
        if not isinstance(columns, (list, tuple)) or not all(isinstance(c, str) for c in columns):
            raise not_allowed(source, f"{where}.reader_cfg.input_columns", columns, "a list of column names")
        values["input_columns"] = tuple(columns)
    values["template"] = _template(source, f"{where}.infer_cfg", d.get("infer_cfg"))
    values["infer_mode"] = _infer_mode(source, f"{where}.infer_cfg", d.get("infer_cfg"))
    seed_key = "seed" if d.get("seed") is not None else "random_seed"
    if d.get(seed_key) is not None:
        values["seed"] = check_int(source, f"{where}.{seed_key}", d[seed_key], 0, 2**32 - 1)
    if "disable_shuffle" in d:
        values["disable_shuffle"] = check_bool(source, f"{where}.disable_shuffle", d["disable_shuffle"])
    if values["kind"] == SYNTHETIC:
        values["synthetic"] = _synthetic(source, f"{where}.config", d.get("config"), values.get("seed"))
    trace = _trace(source, where, d, values.get("seed"))  # checked whatever the type
    if values["kind"] == MOONCAKE_TRACE:
        values["trace"] = trace
    return DatasetConfig(**values)


def _check_test_range(source: str, where: str, value: Any) -> tuple[str | None, slice | None]:
    """(``test_range`` as written, the rows it selects), both None when not set."""
    if value is None or (isinstance(value, str) and value == ""):
        return None, None
    if not isinstance(value, str):
        raise not_allowed(source, where, value, "a slice such as '[0:8]'")
    try:
        return value, parse_test_range(value)
    except ValueError:
        raise not_allowed(source, where, value, "a slice such as '[0:8]'") from None


def _template(source: str, where: str, infer_cfg: Any) -> Template | None:
    if infer_cfg is None:
        return None
    infer_cfg = check_dict(source, where, infer_cfg)
    prompt_template = infer_cfg.get("prompt_template")
    if prompt_template is None:
        return None
    prompt_template = check_dict(source, f"{where}.prompt_template", prompt_template)
    template = prompt_template.get("template")
    where = f"{where}.prompt_template.template"
    if isinstance(template, str):
        return template
    if not isinstance(template, dict) or not isinstance(template.get("round"), (list, tuple)):
        raise not_allowed(source, where, template, "a string, or a dict with a 'round' list")
    begin = template.get("begin")
    if begin is not None and not isinstance(begin, (list, tuple)):
        raise not_allowed(source, f"{where}.begin", begin, "a list of dict(role=..., prompt='...')")
    turns = [*(begin or []), *template["round"]]
    messages = []
    for i, turn in enumerate(turns):
        ok = isinstance(turn, dict) and isinstance(turn.get("prompt"), str) and isinstance(turn.get("role"), str)
        if not ok:
            part = f"begin[{i}]" if i < len(begin or []) else f"round[{i - len(begin or [])}]"
            raise not_allowed(source, f"{where}.{part}", turn, "dict(role='HUMAN'|'BOT'|'SYSTEM'|..., prompt='...')")
        role = AISBENCH_ROLES.get(turn["role"].upper(), turn["role"].lower())
        messages.append({"role": role, "content": turn["prompt"]})
    return tuple(messages)


def _infer_mode(source: str, where: str, infer_cfg: Any) -> str:
    inferencer = infer_cfg.get("inferencer") if isinstance(infer_cfg, dict) else None
    mode = inferencer.get("infer_mode") if isinstance(inferencer, dict) else None
    if mode is None:
        return "every"
    return check_choice(source, f"{where}.inferencer.infer_mode", mode, INFER_MODES)


def _trace(source: str, where: str, d: dict[str, Any], seed: int | None) -> TraceOptions:
    out: dict[str, Any] = {"seed": seed or 0}
    if d.get("block_size") is not None:
        out["block_size"] = check_int(source, f"{where}.block_size", d["block_size"], 1, MAX_LENGTH)
    if d.get("fixed_schedule_auto_offset") is not None:
        out["auto_offset"] = check_bool(
            source, f"{where}.fixed_schedule_auto_offset", d["fixed_schedule_auto_offset"]
        )
    start = d.get("fixed_schedule_start_offset")
    if start is not None:
        out["start_offset_ms"] = check_number(source, f"{where}.fixed_schedule_start_offset", start, 0)
    end = d.get("fixed_schedule_end_offset")
    if end is not None:
        end = check_number(source, f"{where}.fixed_schedule_end_offset", end, -1)
        if end != -1 and end < out.get("start_offset_ms", 0.0):
            raise ConfigError(
                f"{source}: {where}.fixed_schedule_end_offset = {end:g} is not allowed: expected -1 (no end) "
                f"or a time >= fixed_schedule_start_offset ({out.get('start_offset_ms', 0.0):g} ms)"
            )
        out["end_offset_ms"] = end
    return TraceOptions(**out)


def _length(source: str, where: str, value: Any) -> LengthDistribution:
    d = check_dict(source, where, value)
    check_known_keys(source, where, d, _LENGTH_FIELDS)
    method = check_choice(source, f"{where}.Method", d.get("Method"), ("uniform", "gaussian", "zipf"))
    params = check_dict(source, f"{where}.Params", d.get("Params"))
    check_known_keys(source, f"{where}.Params", params, _PARAM_FIELDS)
    lo = check_int(source, f"{where}.Params.MinValue", params.get("MinValue"), 1, MAX_LENGTH)
    hi = check_int(source, f"{where}.Params.MaxValue", params.get("MaxValue"), lo, MAX_LENGTH)
    shape: Gaussian | Zipf | None = None
    if method == "gaussian":
        shape = Gaussian(
            mean=check_number(source, f"{where}.Params.Mean", params.get("Mean"), -3.0e38, 3.0e38),
            var=check_number(source, f"{where}.Params.Var", params.get("Var"), 0, 3.0e38),
        )
    elif method == "zipf":
        shape = Zipf(check_number(source, f"{where}.Params.Alpha", params.get("Alpha"), 1, 10, lo_open=True))
    return LengthDistribution(lo, hi, shape)


def _synthetic(source: str, where: str, value: Any, seed: int | None) -> SyntheticSpec:
    d = check_dict(source, where, value)
    check_known_keys(source, where, d, _SYNTHETIC_FIELDS)
    kind = check_choice(source, f"{where}.Type", d.get("Type"), ("string", "tokenid"))
    count = check_int(source, f"{where}.RequestCount", d.get("RequestCount"), 1, MAX_REQUEST_COUNT)
    if d.get("TrustRemoteCode") is not None:
        check_bool(source, f"{where}.TrustRemoteCode", d["TrustRemoteCode"])
    if kind == "tokenid":
        token_cfg = check_dict(source, f"{where}.TokenIdConfig", d.get("TokenIdConfig"))
        check_known_keys(source, f"{where}.TokenIdConfig", token_cfg, _TOKEN_ID_FIELDS)
        size = check_int(source, f"{where}.TokenIdConfig.RequestSize", token_cfg.get("RequestSize"), 1, MAX_LENGTH)
        prefix = check_int(source, f"{where}.TokenIdConfig.PrefixLen", token_cfg.get("PrefixLen", 0), 0, size)
        return SyntheticSpec(count, TokenIdSpec(size, prefix), seed)
    string_cfg = check_dict(source, f"{where}.StringConfig", d.get("StringConfig"))
    check_known_keys(source, f"{where}.StringConfig", string_cfg, _STRING_FIELDS)
    input_len = _length(source, f"{where}.StringConfig.Input", string_cfg.get("Input"))
    output_len = _length(source, f"{where}.StringConfig.Output", string_cfg.get("Output"))
    return SyntheticSpec(count, StringSpec(input_len, output_len), seed)
