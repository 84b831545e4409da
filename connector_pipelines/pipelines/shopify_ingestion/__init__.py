"""Shopify -> ingestion tables: customers, products and orders of many shops, per tenant partition."""
