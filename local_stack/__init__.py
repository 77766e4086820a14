"""The local embedded stack: moto on 127.0.0.1 as AWS, resources built from template.yaml, and the
real handlers run in-process by a stand-in for Lambda's SQS event source mapping.

Importing this package puts the template's POWERTOOLS_* variables in the environment: Powertools
reads them when the layer's Logger and Metrics are created at import, and in Lambda the environment
is always set before that import. Any process that imports the layer after this package (the demo,
the benchmarks, pytest through tests/conftest.py) therefore behaves as a Lambda sandbox does.
"""

import os

from local_stack.emulator.stack import powertools_environment

os.environ.update(powertools_environment())
