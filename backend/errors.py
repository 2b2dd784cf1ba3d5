"""Errors a person can act on: what is wrong, and how to fix it."""


class BackendError(Exception):
    """A failure reported to the user as one JSON error line; `fix` says what to do about it."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} {self.fix}".strip()


class NothingFound(BackendError):
    """An estimator saw no person in the crops it was given: the pipeline drops those frames of the tracklet (a false
    detection), not the whole run."""
