"""The connector service: signed webhooks into a durable inbox, the management API with roles, health and
metrics. It never runs a sync itself: it writes to the connector database and launches Dagster runs through
the webserver's GraphQL API, so every run it starts shows in the UI like a scheduled one."""
