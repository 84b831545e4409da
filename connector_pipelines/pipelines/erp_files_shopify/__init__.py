"""ERP product files (CSV / JSON / NDJSON on FTP, FTPS, SFTP or a folder) -> Shopify, per tenant partition."""
