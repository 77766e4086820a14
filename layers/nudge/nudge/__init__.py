"""Nudge: personalized e-commerce email triggered by store events.

The package is shipped as a Lambda layer; handlers in ``functions/`` are thin wrappers around
:func:`nudge.trigger_handler.process_trigger_batch` and the other functions' entries.
"""

import gc as _gc
import os as _os

# Set by Lambda in every runtime's process (its bootstrap fetches events from it), and by nothing that
# imports the package in tests or tools.
LAMBDA_RUNTIME_API = "AWS_LAMBDA_RUNTIME_API"

#: Whether the package stopped the garbage collector for a Lambda function's import, which the
#: handler's ``nudge.function_import.imported`` ends (why: that module).
collector_stopped_for_import = bool(_os.environ.get(LAMBDA_RUNTIME_API)) and _gc.isenabled()
if collector_stopped_for_import:
    _gc.disable()
