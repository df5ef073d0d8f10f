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
    {{ return(flywheel.missing_implementation('hash_bucket')) }}
{%- endmacro %}

{% macro duckdb__hash_bucket(key, n_buckets=100) -%}
    cast(('0x' || left(md5(cast({{ key }} as varchar)), 8))::ubigint % {{ n_buckets }} as integer)
{%- endmacro %}

{% macro spark__hash_bucket(key, n_buckets=100) -%}
    cast(cast(conv(left(md5(cast({{ key }} as string)), 8), 16, 10) as bigint) % {{ n_buckets }} as int)
{%- endmacro %}
