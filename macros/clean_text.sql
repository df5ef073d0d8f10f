{#-
    Raw text with leading and trailing whitespace of every kind (spaces, tabs, newlines,
    vertical tabs, no-break and other Unicode spaces, byte order marks) removed; null when
    nothing is left. Ids, surfaces and event types go through it, so a
    tab or a newline is never an id.
-#}
{% macro clean_text(expression, fast_path=false) -%}
    {%- set cleaned = adapter.dispatch('clean_text', 'flywheel')(expression) -%}
    {%- if fast_path -%}
        {#- a text that starts and ends with printable ASCII that is no space has nothing to
            trim (the trimming regex was ~15% of staging's build): the same value either way -#}
        {%- set text = 'cast(' ~ expression ~ ' as ' ~ dbt.type_string() ~ ')' -%}
        {%- set code_point = adapter.dispatch('code_point', 'flywheel') -%}
        {%- set cleaned = 'case when ' ~ code_point(text) ~ ' between 33 and 126 and '
            ~ code_point('right(' ~ text ~ ', 1)') ~ ' between 33 and 126 then '
            ~ text ~ ' else ' ~ cleaned ~ ' end' -%}
    {%- endif -%}
    {{ return(cleaned) }}
{%- endmacro %}

{% macro default__clean_text(expression) -%}
    {#- \s is ASCII in RE2: add vertical tab, next line and every Unicode separator (\pZ) -#}
    {%- set space = "[\\s\\x{0B}\\x{85}\\pZ\\x{FEFF}]" -%}
    nullif(regexp_replace(cast({{ expression }} as {{ dbt.type_string() }}), '^{{ space }}+|{{ space }}+$', '', 'g'), '')
{%- endmacro %}

{% macro spark__clean_text(expression) -%}
    {#- Java regexes; backslashes doubled in a Spark SQL string literal -#}
    {%- set space = "[\\\\s\\\\x{0B}\\\\x{85}\\\\pZ\\\\x{FEFF}]" -%}
    nullif(regexp_replace(cast({{ expression }} as string), '^{{ space }}+|{{ space }}+$', ''), '')
{%- endmacro %}

{#- The code point of a text's first character (null for null or empty text). -#}
{% macro code_point(text) -%}
    {{ return(adapter.dispatch('code_point', 'flywheel')(text)) }}
{%- endmacro %}

{% macro default__code_point(text) -%}
    ascii({{ text }})
{%- endmacro %}

{% macro duckdb__code_point(text) -%}
    ord({{ text }})
{%- endmacro %}
