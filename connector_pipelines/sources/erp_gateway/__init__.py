"""The ERP side of the erp_gateway pipeline: one small connector interface (``connector``) and one module per
ERP implementing it over that ERP's client (``logo``, ``netsis``). A new ERP is one more module here plus
its client and emulator; nothing else changes.
"""
