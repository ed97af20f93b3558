"""The one exception the lab raises: its message names the thing at fault."""


class LabError(RuntimeError):
    """A lab operation failed; str(error) says which host, device or file and why."""
