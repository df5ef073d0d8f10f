{#- True when the text parses as a JSON object. -#}
{% macro is_json_object(json_text) -%}
    {{ return(adapter.dispatch('is_json_object', 'flywheel')(json_text)) }}
{%- endmacro %}

{% macro default__is_json_object(json_text) -%}
    {{ return(flywheel.missing_implementation('is_json_object')) }}
{%- endmacro %}

{% macro duckdb__is_json_object(json_text) -%}
    {#- case, not and: json_type must never see text that json_valid rejected -#}
    case when json_valid({{ json_text }}) then json_type({{ json_text }}) = 'OBJECT' else false end
{%- endmacro %}

{% macro spark__is_json_object(json_text) -%}
    {#- json_object_keys is null for anything but a JSON object (invalid JSON included) -#}
    coalesce(json_object_keys({{ json_text }}) is not null, false)
{%- endmacro %}
