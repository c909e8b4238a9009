"""Rendering a Hugging Face chat template (``tokenizer_config.json``'s ``chat_template``) with jinja2.

The environment follows what ``transformers`` does for ``apply_chat_template``: a sandboxed jinja2
environment with ``trim_blocks`` and ``lstrip_blocks``, the loop-controls extension, a ``tojson``
filter, and the globals ``raise_exception(message)`` and ``strftime_now(format)``. The template
receives ``messages``, ``add_generation_prompt`` and the special tokens named in the tokenizer
config (``bos_token``, ``eos_token``, ``unk_token``, ``pad_token``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ais_bench.errors import ConfigError

if TYPE_CHECKING:
    import jinja2


class ChatTemplateError(ValueError):
    """The template raised (``raise_exception``) or failed to render these messages."""


def compile_chat_template(source: str) -> jinja2.Template:
    """A compiled jinja2 template; ``ConfigError`` when jinja2 is missing or the template is invalid."""
    try:
        import jinja2
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        raise ConfigError(
            "rendering the tokenizer's chat template needs the jinja2 package",
            hint="pip install 'ais_bench[tokenizer]' (or pip install jinja2)",
        ) from None

    def raise_exception(message: str) -> None:
        raise ChatTemplateError(message)

    def tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False, **_: Any) -> str:
        return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    try:
        return env.from_string(source)
    except jinja2.TemplateError as exc:
        raise ConfigError(f"the tokenizer's chat_template is not a valid jinja2 template: {exc}") from None


def render_chat(template: jinja2.Template, messages: list[dict[str, Any]], special_tokens: Mapping[str, str]) -> str:
    """The prompt text the server's template would build, with the assistant turn opened
    (``add_generation_prompt=True``). Raises ``ChatTemplateError`` when the template refuses."""
    try:
        return template.render(messages=messages, add_generation_prompt=True, **special_tokens)
    except ChatTemplateError:
        raise
    except Exception as exc:  # jinja2 errors and errors raised inside the template's expressions
        raise ChatTemplateError(f"{type(exc).__name__}: {exc}") from None
