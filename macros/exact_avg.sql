{#-
    Order-independent sum and mean of a numeric expression: the same double, to the last bit,
    whatever order the warehouse adds the rows in. A float sum depends on that order (DuckDB's
    parallel aggregation makes avg() of a double column differ in its last bits between two
    identical builds); here each value is cast to decimal(38, scale), i.e. rounded to `scale`
    decimal places, and a decimal sum is exact integer arithmetic, the same in any order. Only
    the sum is cast to a double, then divided by the count (both roundings deterministic).

    scale: the decimal places kept of each value, 18 by default.
      - Integer-valued expressions (0/1 indicators, click positions, 0/1 labels) are exact at
        any scale: the sum is an exact integer, the mean that count ratio rounded once.
      - Real values (share_rewritten and P(good) in [0, 1], dwell seconds): each value is
        rounded to 18 decimal places, off by at most 0.5e-18 (under one ulp of any mean of at
        least 2^-8, about 0.004) plus the one double rounding of duckdb's cast (it scales by
        10^18 in double arithmetic: 1.1e-16 relative). For the non-negative columns we average,
        the mean is thus within about one ulp of the exact mean of its inputs (measured: at
        most 2.2e-16 relative on the sample). A float sum of n values drifts by up to about
        n * 1.1e-16 relative (avg() was off by up to 8e-14 on the sample): this is closer to
        the exact mean, not only reproducible.
    decimal(38, scale) leaves 38 - scale integer digits: at scale 18, values and sums must stay
    below 1e20 in magnitude (1e20 seconds of dwell, 1e20 rows of an indicator); beyond, the cast
    or the sum fails the build with an overflow error, never a wrong number.
    Dispatched per adapter: the default is standard SQL (decimal(38, s) on duckdb, postgres,
    snowflake, redshift); an adapter whose decimals are narrower (bigquery: bignumeric) adds its
    own <adapter>__exact_sum.
-#}
{% macro exact_sum(expr, scale=18) -%}
    {{ return(adapter.dispatch('exact_sum', 'flywheel')(expr, scale)) }}
{%- endmacro %}

{% macro default__exact_sum(expr, scale=18) -%}
    cast(sum(cast({{ expr }} as decimal(38, {{ scale }}))) as {{ flywheel.type_double() }})
{%- endmacro %}

{#- The mean of the non-null values of expr (null when there are none), as exact_sum. -#}
{% macro exact_avg(expr, scale=18) -%}
    {{ return(adapter.dispatch('exact_avg', 'flywheel')(expr, scale)) }}
{%- endmacro %}

{% macro default__exact_avg(expr, scale=18) -%}
    ({{ flywheel.exact_sum(expr, scale) }} / nullif(count({{ expr }}), 0))
{%- endmacro %}
