"""Fault runs and fuzzing: the whole pipeline under AWS's failure semantics, counted as a customer would.

- ``python -m local_stack.faults`` (`make faults`, __main__.py): every run below as one table;
- runs.py: crash points, throttling, lost Send events, refused records and forged SES events;
- fuzz.py: generated store events, valid and hostile (hypothesis), through the real handlers;
- hostile_experiments.py: generated Experiments rows a marketer might leave, put in the table during
  the fuzz run, and the probes that must still be sent;
- refused_shapes.py: records that can never succeed, which must be dead-lettered at once;
- forged_ses.py: SES events that are not about an email we sent, which must change nothing;
- shapes.py: what these share (hypothesis-free), and hostile shapes no generator makes by chance.

The faults themselves (crash points, throttling, refusals, stalls, lost answers) are injected by
local_stack/emulator/failures.py: the emulator needs the same hooks to end an invocation at its
timeout, as Lambda does.
"""
