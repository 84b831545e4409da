"""The ERP side of the erp_gateway pipeline: one small connector interface (``connector``), what connectors
share (``base``: reads through the field mapping of ``fields``, the exactly-once order flow), one module per
ERP (``logo``, ``netsis``, ``csv``), the registry that opens a tenant's connector by system name
(``registry.open_connector``) and the mapping check (``check``).
"""
