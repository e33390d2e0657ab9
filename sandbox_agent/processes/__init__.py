"""Commands run inside the sandbox: one-shot runs and background processes with bounded, streamed output."""

from .manager import ProcessLimits, ProcessManager

__all__ = ["ProcessLimits", "ProcessManager"]
