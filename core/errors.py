"""Errors a user can cause, each carrying one line that names the place and the problem."""


class LorascopeError(Exception):
    """A problem the user can fix; the command layer prints ``lorascope: <message>`` and exits non-zero."""


class InputError(LorascopeError):
    """Malformed or unusable input data (files, N-best lists, options)."""

    def __init__(self, where: str, problem: str):
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}" if where else problem)


class PeerFailed(LorascopeError):
    """Another training process failed and reports the error itself; this one only stops."""
