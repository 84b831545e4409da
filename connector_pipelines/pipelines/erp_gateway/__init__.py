"""The ERP gateway: a Logo, Netsis or CSV ERP and a Shopify or Shopware shop, per tenant partition: stock and
prices into the shop, orders into the ERP, shipments back."""
