{#-
    A stable bucket in [0, n_buckets) for a key: the first 8 hex digits of md5(key), read as an
    integer, modulo n_buckets (in Python: int(hashlib.md5(key).hexdigest()[:8], 16) % n). The
    same key lands in the same bucket on every run, machine, warehouse and model version, which
    makes a deterministic train/eval split. Dispatched per adapter.
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
    cast(('0x' || left(md5(cast({{ key }} as varchar)), 8))::ubigint % {{ n_buckets }} as integer)
{%- endmacro %}
