{#- True when the text parses as a JSON object. -#}
{% macro is_json_object(json_text) -%}
    {{ return(adapter.dispatch('is_json_object', 'flywheel')(json_text)) }}
{%- endmacro %}

{% macro default__is_json_object(json_text) -%}
    {{ exceptions.raise_compiler_error(
        "flywheel.is_json_object has no implementation for adapter '" ~ adapter.type() ~ "'."
    ) }}
{%- endmacro %}

{% macro duckdb__is_json_object(json_text) -%}
    {#- case, not and: json_type must never see text that json_valid rejected -#}
    case when json_valid({{ json_text }}) then json_type({{ json_text }}) = 'OBJECT' else false end
{%- endmacro %}
