"""Errors the user can act on. The CLI prints them as one line and exits with status 2."""


class NasreproError(Exception):
    """Bad input or a broken environment: an unknown name, a bad budget, a missing or corrupt file."""


class InvalidArchitecture(NasreproError):
    """An architecture that is not a cell of the benchmark's space."""


class DataError(NasreproError):
    """A benchmark data file that is missing, corrupt or not in the expected format."""
