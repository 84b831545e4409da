"""Dagster definitions of every pipeline."""

import warnings

import dagster as dg

# Partitioned asset checks (one result per tenant) are a preview feature in Dagster 1.13; we rely on them
# deliberately, so their warning would only be noise in every run log.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
