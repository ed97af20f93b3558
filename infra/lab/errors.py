"""The lab's exceptions: the message names the thing at fault.

`rampart lab` maps them onto the command contract (DESIGN §5): `LabInputError` exits 2,
`LabUnavailableError` 3, any other `LabError` 1.
"""


class LabError(RuntimeError):
    """A lab operation failed; str(error) says which host, device or file and why."""


class LabInputError(LabError):
    """The lab was given something unusable (a path, an option): nothing was changed.
    Commands exit 2 for it, as for every usage or input error."""


class LabUnavailableError(LabError):
    """A lab host or the lab's apt proxy is not there to use: a host exited while booting or
    is not ready in time, the proxy did not start listening. Commands exit 3 for it, as for
    every unavailable external service."""
