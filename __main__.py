"""Rampart's Pulumi program, as `pulumi up`/`preview` run it: the engine's stack config into
one `Stack` (infra/stack), handed to `infra.program.run` — the same function `rampart render`
and `rampart policy check` run under the offline engine."""

import pulumi

from infra import program, stack

try:
    program.run(stack.from_engine())
except program.REFUSALS as exc:
    # RunError is the SDK's clean exit: `pulumi up` prints this one line, not a traceback.
    raise pulumi.RunError(str(exc)) from exc
