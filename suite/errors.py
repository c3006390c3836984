"""Errors the user can act on. The CLI prints them as one line and exits with status 2."""


class NasreproError(Exception):
    """Bad input or a broken environment: an unknown name, a bad budget, a missing or corrupt file."""


class InvalidArchitecture(NasreproError):
    """An architecture that is not a cell of the benchmark's space."""


class DataError(NasreproError):
    """A benchmark data file that is missing, corrupt or not in the expected format."""


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt: no `except Exception` may swallow it
    """The experiment was stopped by a signal; what is stored stays stored."""

    def __init__(self, signum: int, stored: int = 0, total: int = 0) -> None:
        super().__init__(f"interrupted: {stored} of {total} runs stored; rerun the same command to resume")
        self.signum, self.stored, self.total = signum, stored, total
