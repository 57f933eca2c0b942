"""The one exception family that users see: a message saying what is wrong and where (file, row, field)."""


class GtlocError(Exception):
    """A user-facing error: bad input, a missing file, an incompatible checkpoint. The CLI prints it and exits 2."""
