"""Error hierarchy. Every error a user can cause is an ``AisBenchError`` subclass.

The CLI turns one of these into a single line (``code: message`` plus an optional hint)
and a non-zero exit; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations


class AisBenchError(Exception):
    """Root of the tool's own errors. ``code`` is stable and documented."""

    code = "AIS-GENERAL"
    exit_code = 2

    def __init_subclass__(cls, *, code: str | None = None, **kwargs: object) -> None:
        """``class ConfigError(AisBenchError, code="AIS-CONFIG")`` sets the subclass's ``code``."""
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = f"[{self.code}] {self.message}"
        if self.hint:
            text += f" -- {self.hint}"
        return text


class ConfigError(AisBenchError, code="AIS-CONFIG"):
    """A config file, a config field or a CLI argument is wrong."""


class DatasetError(AisBenchError, code="AIS-DATASET"):
    """A dataset file is missing or malformed."""


class ServerUnreachable(AisBenchError, code="AIS-UNREACHABLE"):
    """The inference server could not be reached at all."""


class NoSteadyStage(AisBenchError, code="AIS-NO-STEADY-STAGE"):
    """The stable_stage summarizer found no window where in-flight == batch_size."""


class AllRequestsFailed(AisBenchError, code="AIS-ALL-FAILED"):
    """No request succeeded, so there is nothing to compute metrics from."""


class OutputError(AisBenchError, code="AIS-OUTPUT"):
    """The output folder cannot be written."""


class RecordFormatError(AisBenchError, code="AIS-RECORDS"):
    """Record files this version cannot read."""


class RunInterrupted(AisBenchError, code="AIS-INTERRUPTED"):
    """The run was interrupted (Ctrl-C, or SIGTERM: exit 143); finished requests were kept and summarised."""

    exit_code = 130

    def __init__(self, message: str, *, hint: str | None = None, stop_signal: str = "SIGINT") -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code_of_signal(stop_signal)


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``timeout``, Docker and Kubernetes send), raised in the main thread where
    Ctrl-C raises ``KeyboardInterrupt``, so both stop a run the same way."""


#: Exit code of a run stopped by each signal: 128 + the signal number, as a shell reports it.
SIGNAL_EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


def stop_signal_of(exc: BaseException) -> str:
    """Name of the signal behind a ``KeyboardInterrupt``."""
    return "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"


def exit_code_of_signal(stop_signal: str) -> int:
    return SIGNAL_EXIT_CODES.get(stop_signal, 130)
