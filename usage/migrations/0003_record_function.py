"""On PostgreSQL, one function writes a call's record and adds it to its hourly and daily
rollups (usage.recording calls it). Its statements are planned once per connection, where the
same statements sent as text were parsed and planned on every call: 1.6 ms -> 1.0 ms a call on
the benchmark machine. A change of these tables' columns replaces the function in its migration.
"""

from django.db import migrations

RECORD = (
    ("created", "timestamptz"),
    ("kind", "text"),
    ("user_id", "bigint"),
    ("token_id", "bigint"),
    ("integration_id", "bigint"),
    ("prompt_id", "bigint"),
    ("version_id", "bigint"),
    ("test_id", "bigint"),
    ("feature", "text"),
    ("ok", "boolean"),
    ("error_code", "text"),
    ("http_status", "integer"),
    ("total_ms", "integer"),
    ("sts_ms", "integer"),
    ("model_ms", "integer"),
    ("first_token_ms", "integer"),
    ("input_tokens", "integer"),
    ("output_tokens", "integer"),
    ("cost_nano", "bigint"),
    ("request_id", "text"),
    ("request_body", "text"),
    ("response_body", "text"),
    ("bodies_until", "timestamptz"),
)
DIMENSIONS = ("kind", "integration_id", "prompt_id", "version_id", "feature", "token_id")
TEXT_DIMENSIONS = ("kind", "feature")
SUMS = (
    "calls",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_nano",
    "latency_sum_ms",
    *(f"lat{i}" for i in range(16)),
)


def _upsert(table: str, period: str, value: str) -> str:
    columns = (period, *DIMENSIONS, *SUMS)
    values = (value, *(f"g_{d}" for d in DIMENSIONS), *(f"s_{s}" for s in SUMS))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)}) "
        f"ON CONFLICT ({', '.join(columns[:7])}) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in SUMS)
        + ";"
    )


ARGUMENTS = (
    "unflushed boolean",
    *(f"r_{name} {kind}" for name, kind in RECORD),
    "p_hour timestamptz",
    *(f"g_{d} {'text' if d in TEXT_DIMENSIONS else 'bigint'}" for d in DIMENSIONS),
    *(f"s_{s} bigint" for s in SUMS),
)
# unflushed: the call's own transaction (autocommit) commits without waiting for the disk and
# waits at most 1 s for a rollup row's lock (usage.recording says why).
CREATE = f"""
CREATE OR REPLACE FUNCTION usage_record({", ".join(ARGUMENTS)}) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  IF unflushed THEN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM set_config('lock_timeout', '1s', true);
  END IF;
  INSERT INTO usage_callrecord ({", ".join(name for name, _ in RECORD)})
    VALUES ({", ".join(f"r_{name}" for name, _ in RECORD)});
  {_upsert("usage_hourlyrollup", "hour", "p_hour")}
  {_upsert("usage_dailyrollup", "day", "date_trunc('day', p_hour, 'UTC')")}
END
$fn$
"""
DROP = f"DROP FUNCTION IF EXISTS usage_record({', '.join(a.split()[1] for a in ARGUMENTS)})"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("usage", "0002_daily_rollups")]

    operations = [migrations.RunPython(create, drop)]
