"""The store's product catalog and what its orders teach about products bought together.

``models`` is the shape of a Products row and of the recommendation model's rows; the catalog
function writes them (``Product Updated`` events and the line items of ``Order Placed``), the send
path only reads them (``nudge.recommendations``).
"""
