{#-
    What a dispatched macro's default__ returns when an adapter has no implementation of it:
    at parse time a placeholder (so one missing implementation never stops the whole project),
    and when a model that needs it compiles, an error naming the macro to add. Only the models
    that call it fail, and their children are skipped.
-#}
{% macro missing_implementation(macro_name, hint='') -%}
    {%- if execute -%}
        {{ exceptions.raise_compiler_error(
            "flywheel." ~ macro_name ~ " has no implementation for adapter '" ~ adapter.type()
            ~ "': add a " ~ adapter.type() ~ "__" ~ macro_name ~ " macro (duckdb and spark are supported)"
            ~ hint
        ) }}
    {%- endif -%}
    {{ return('null') }}
{%- endmacro %}
