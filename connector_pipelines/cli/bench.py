"""`bench PIPELINE`: the benchmarks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from connector_pipelines.cli.base import INGESTION_PIPELINE, PipelineChoice, main
from connector_pipelines.cli.running import echo_err

if TYPE_CHECKING:
    pass


WEBHOOKS_BENCH = "webhooks"
GATEWAY_BENCH = "erp_gateway"  # its own runs: stock and prices, orders across a kill, webhook latency


class BenchChoice(PipelineChoice):
    """What `bench` measures: a pipeline of the catalog, or the service's webhook intake."""

    @property
    def choices(self) -> tuple[str, ...]:
        from connector_pipelines.pipelines.catalog import recipe_names

        return (*recipe_names(), WEBHOOKS_BENCH)

    @choices.setter
    def choices(self, _value: object) -> None:
        """Set by click.Choice's constructor; the catalog decides."""


@main.command("bench")
@click.argument("pipeline", type=BenchChoice(), metavar="PIPELINE")
@click.option(
    "--products", type=click.IntRange(min=1), help="Products in the catalog  [default: the pipeline's own]"
)
@click.option("--variants", default=5, show_default=True)
@click.option("--rate-limits", type=click.Choice(["off", "realistic"]), default="off", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout: {run: {metric: value}}.")
@click.option(
    "--database-url",
    metavar="URL",
    help="PostgreSQL or SQLite server for the connector database: a throwaway database (or schema) is "
    "created there and removed afterwards  [default: a throwaway SQLite file; webhooks: the PostgreSQL "
    "at 127.0.0.1]",
)
@click.option("--seconds", default=20.0, show_default=True, help="webhooks: how long the load lasts.")
@click.option("--senders", default=16, show_default=True, help="webhooks: concurrent senders.")
@click.option(
    "--customers",
    default=50_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="shopify_ingestion: customers in the shop.",
)
@click.option(
    "--orders",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="shopify_ingestion: orders in the shop (3 line items each); erp_gateway: paid orders into the ERP "
    "[erp_gateway default: 1000].",
)
@click.option(
    "--skus", type=click.IntRange(min=1), help="erp_gateway: ERP items the shop sells  [default: 50000]"
)
@click.pass_context
def bench(
    ctx: click.Context,
    pipeline: str,
    products: int | None,
    variants: int,
    rate_limits: str,
    as_json: bool,
    database_url: str | None,
    seconds: float,
    senders: int,
    customers: int,
    orders: int,
    skus: int | None,
) -> None:
    """Benchmark a pipeline against the sandbox (emulators in a child process, the pipeline in this one): a
    full sync, a delta after 1 % of the source changed, and a delta with nothing changed. `bench webhooks`
    loads the service with signed webhooks, kills it half-way and counts what it lost. `bench
    shopify_ingestion` seeds a shop with --customers, --orders and --products and runs backfill,
    incremental_1pct and incremental_none into the ingestion tables. `bench erp_gateway` (Logo -> Shopify,
    --skus, --orders) runs stock and prices full, 1 % and none, orders across a kill, and webhook latency."""
    if pipeline == WEBHOOKS_BENCH:
        from connector_pipelines.service.bench import DEFAULT_DATABASE_URL, run_webhook_benchmark

        run_webhook_benchmark(seconds, senders, as_json, database_url or DEFAULT_DATABASE_URL)
        return
    from connector_pipelines.bench.harness import UnsupportedDatabaseError, database_backend
    from connector_pipelines.bench.runner import run_benchmark
    from connector_pipelines.pipelines.catalog import pipeline_recipe
    from connector_pipelines.runner import showing_progress

    try:
        if database_url is not None:
            database_backend(database_url)  # before the sandbox starts
        if pipeline == INGESTION_PIPELINE:
            from connector_pipelines.pipelines.shopify_ingestion.bench import run_ingestion_benchmark

            with showing_progress(sys.stderr):
                run_ingestion_benchmark(
                    click.echo,
                    customers=customers,
                    orders=orders,
                    products=products if products is not None else pipeline_recipe(pipeline).bench_products,
                    variants=variants,
                    rate_limits=rate_limits,
                    as_json=as_json,
                    log=echo_err,
                    database_url=database_url,
                )
            return
        if pipeline == GATEWAY_BENCH:
            from connector_pipelines.bench.erp_gateway import GATEWAY_ORDERS, run_gateway_benchmark

            defaulted = ctx.get_parameter_source("orders") == click.core.ParameterSource.DEFAULT
            with showing_progress(sys.stderr):
                run_gateway_benchmark(
                    click.echo,
                    skus=skus or products or pipeline_recipe(pipeline).bench_products,
                    orders=GATEWAY_ORDERS if defaulted else orders,
                    as_json=as_json,
                    log=echo_err,
                    database_url=database_url,
                )
            return
        with showing_progress(sys.stderr):
            run_benchmark(
                pipeline,
                click.echo,
                products=products if products is not None else pipeline_recipe(pipeline).bench_products,
                variants=variants,
                rate_limits=rate_limits,
                as_json=as_json,
                log=echo_err,
                database_url=database_url,
            )
    except UnsupportedDatabaseError as exc:
        raise click.BadParameter(str(exc), param_hint="--database-url") from None
