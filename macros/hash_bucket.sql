{#-
    A stable bucket in [0, n_buckets) for a key: md5 of the key as a number, modulo n_buckets.
    The same key lands in the same bucket on every run, machine and model version, which makes
    a deterministic train/eval split. Dispatched per adapter.
-#}
{% macro hash_bucket(key, n_buckets=100) -%}
    {{ return(adapter.dispatch('hash_bucket', 'flywheel')(key, n_buckets)) }}
{%- endmacro %}

{% macro default__hash_bucket(key, n_buckets=100) -%}
    {{ exceptions.raise_compiler_error(
        "flywheel.hash_bucket has no implementation for adapter '" ~ adapter.type()
        ~ "': add a " ~ adapter.type() ~ "__hash_bucket macro (duckdb is supported)."
    ) }}
{%- endmacro %}

{% macro duckdb__hash_bucket(key, n_buckets=100) -%}
    cast(md5_number(cast({{ key }} as varchar)) % {{ n_buckets }} as integer)
{%- endmacro %}
