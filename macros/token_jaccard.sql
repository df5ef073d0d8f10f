{#-
    Token-level Jaccard similarity |A ∩ B| / |A ∪ B| of two token arrays made by tokenize():
    1.0 for the same words, 0.0 for none in common, null when either side is null or both are
    empty. Dispatched per adapter.
-#}
{% macro token_jaccard(tokens_a, tokens_b) -%}
    {{ return(adapter.dispatch('token_jaccard', 'flywheel')(tokens_a, tokens_b)) }}
{%- endmacro %}

{% macro default__token_jaccard(tokens_a, tokens_b) -%}
    {{ exceptions.raise_compiler_error(
        "flywheel.token_jaccard has no implementation for adapter '" ~ adapter.type()
        ~ "': add a " ~ adapter.type() ~ "__token_jaccard macro (duckdb is supported)."
    ) }}
{%- endmacro %}

{% macro duckdb__token_jaccard(tokens_a, tokens_b) -%}
    case
        when {{ tokens_a }} is not null and {{ tokens_b }} is not null
            then len(list_intersect({{ tokens_a }}, {{ tokens_b }}))::double
                / nullif(len(list_distinct(list_concat({{ tokens_a }}, {{ tokens_b }}))), 0)
    end
{%- endmacro %}
