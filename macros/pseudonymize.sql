{#-
    A user id replaced by a salted hash (md5 of salt and id), when the var
    flywheel__pseudonymize_user_id is on; unchanged otherwise. The salt comes from the
    environment variable DBT_ENV_SECRET_FLYWHEEL_USER_ID_SALT through profiles.yml (a DuckDB
    variable set on every connection), so it never appears in compiled SQL or dbt's logs
    (dbt scrubs DBT_ENV_SECRET_ values). With the var on and no salt, the model stops with an
    error saying so.
-#}
{% macro pseudonymize(expression) -%}
    {%- if not var('flywheel__pseudonymize_user_id') -%}
        {{ return(expression) }}
    {%- endif -%}
    {{ return(adapter.dispatch('pseudonymize', 'flywheel')(expression)) }}
{%- endmacro %}

{% macro default__pseudonymize(expression) -%}
    {{ return(flywheel.missing_implementation('pseudonymize', ', or turn flywheel__pseudonymize_user_id off')) }}
{%- endmacro %}

{% macro duckdb__pseudonymize(expression) -%}
    case
        when coalesce(getvariable('flywheel_user_id_salt'), '') = ''
            then error(
                'flywheel__pseudonymize_user_id is on but DBT_ENV_SECRET_FLYWHEEL_USER_ID_SALT is not set: '
                || 'export it (a long random string, kept secret and stable)'
            )
        when {{ expression }} is not null
            then md5(getvariable('flywheel_user_id_salt') || '|' || {{ expression }})
    end
{%- endmacro %}

{% macro spark__pseudonymize(expression) -%}
    {#- the salt is the Spark conf spark.flywheel.user_id_salt (profiles.yml sets it from the
        secret env var), substituted by Spark when the statement runs, so it is in no compiled
        SQL; an unset conf is left as the literal ${...} -#}
    {%- set salt = "'${spark.flywheel.user_id_salt}'" -%}
    case
        when {{ salt }} = '' or left({{ salt }}, 2) = concat('$', '{')
            then raise_error(
                'flywheel__pseudonymize_user_id is on but DBT_ENV_SECRET_FLYWHEEL_USER_ID_SALT is not set: '
                || 'export it (a long random string, kept secret and stable)'
            )
        when {{ expression }} is not null
            then md5(concat({{ salt }}, '|', {{ expression }}))
    end
{%- endmacro %}
