"""User-facing errors: each names the file, the field and what was expected; the CLI prints them
without a traceback."""


class MedbenchError(Exception):
    """Base class for errors the user can act on."""


class SchemaError(MedbenchError):
    """A document does not match its JSON Schema."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source} is invalid:\n" + "\n".join(f"  - {p}" for p in problems))


class DatasetError(MedbenchError):
    """A dataset file is missing, unreadable or does not match its frozen split lock."""


class EngineError(MedbenchError):
    """The Docker engine is not reachable or refused an operation."""


class SubmissionError(MedbenchError):
    """A submission folder is malformed (before anything is built)."""
