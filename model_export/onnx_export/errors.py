"""The one error of the export: its message is a single line naming what failed."""


class ExportError(RuntimeError):
    """The model cannot be exported, or its export failed a gate: no file is written."""
