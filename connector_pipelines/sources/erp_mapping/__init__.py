"""ERP file rows -> canonical products, through a per-tenant mapping file a user can review and version.

One module per concern, each importing only the ones listed before it:

- ``config``: the mapping file: its models (``MappingConfig``), parsing, loading and writing it.
- ``values``: reading a column or JSON path, locale-aware numbers, compiled transformation chains.
- ``metafields``: a mapped value turned into the string Shopify stores for a metafield's type.
- ``products``: rows grouped into products with one variant per row; a bad row becomes a row error.
- ``check``: the mapping check: a sample of mapped products and every row error, nothing written.
"""
