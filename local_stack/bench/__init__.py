"""Benchmarks: `make bench` (``python -m local_stack.bench``, __main__.py) and `make bench-reengagement`
(reengagement.py), measured on the emulator.

- render.py: rendering an email to MIME bytes, naive vs shipped vs plain Jinja;
- handler.py, scenarios.py: the send path's calls, request units (item_size.py), CPU and Lambda time
  per email, with AWS's answers recorded and given back (canned_server.py over a real socket), in a
  busy, a quiet and a cold store, priced by cost_model.py;
- cold_start.py, layer.py: handler imports in fresh interpreters, from the code as `sam build` ships
  it (layer.py builds that for this interpreter); tracing.py: what X-Ray's botocore patch adds;
- layer_report.py: the built layer's size and bytecode (`make build` runs it too);
- table.py: a line of the table.
"""
