"""The one exception the lab raises: its message names the thing at fault."""


class LabError(RuntimeError):
    """A lab operation failed; str(error) says which host, device or file and why."""


class LabInputError(LabError):
    """The lab was given something unusable (a path, an option): nothing was changed.
    Commands exit 2 for it, as for every usage or input error."""
