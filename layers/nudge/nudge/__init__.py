"""Nudge: personalized e-commerce email triggered by store events.

The package is shipped as a Lambda layer; handlers in ``functions/`` are thin wrappers around
:func:`nudge.trigger_handler.process_trigger_batch`.
"""
