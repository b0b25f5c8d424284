"""Errors that name the file, line or parameter at fault, so a user can fix the input."""


class RapportsokError(Exception):
    """Base class: a problem the user can act on (shown without a stack trace)."""


class CorpusError(RapportsokError):
    """A corpus file or the manifest is unusable. The message names the file (and line)."""

    def __init__(self, path, message, line=None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # raised in a parsing worker process, re-raised in the build with the same message
        return (type(self), (self.path, self.message, self.line))


class SearchError(RapportsokError):
    """A search request is invalid. The message names the parameter."""

    def __init__(self, parameter, message):
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")
