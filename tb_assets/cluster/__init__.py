"""The team deployment (TB_PROFILE=team, DESIGN §6): the same definitions with the instance on
PostgreSQL, runs launched by dagster-celery's CeleryRunLauncher onto workers through Redis, the
code location served over gRPC, and `tb cluster up/down` to start and stop those processes on one
machine for a trial. Nothing under tb_assets/core changes between a laptop and a cluster."""
