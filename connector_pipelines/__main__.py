"""`python -m connector_pipelines` = the `connector-pipelines` command."""

from connector_pipelines.cli import main

main()
