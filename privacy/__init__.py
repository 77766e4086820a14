"""What Nudge stores about one customer, for a data-protection officer: the subject-access export.

A local tool (``python -m privacy export-customer --id ...``), not part of the Lambda layer::

    print(json.dumps(export_customer(tables, "cus_vip_ada", hash_key), indent=2))
"""

from privacy.export import ExportTables, export_customer

__all__ = ["ExportTables", "export_customer"]
