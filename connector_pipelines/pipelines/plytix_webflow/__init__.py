"""Plytix PIM -> Webflow e-commerce: products with their variant matrices, per tenant partition."""
