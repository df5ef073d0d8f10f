{#-
    One row per labeling function, straight from `labeling_functions()` (macros/): which task it
    votes on, which vote it casts, the SQL it compiles to, its params and what it means. The
    label job reads this table to know each task's LFs; analysts read it to know what an
    `lf_*` column of fct_lf_votes says. `in_label_model` is false for the LFs the var
    flywheel__lfs_excluded_from_fit leaves out of the fit.
-#}
{%- set lfs = flywheel.lf_definitions() -%}

with

definitions as (
    {%- for lf in lfs %}
        select
            cast('{{ lf.name }}' as {{ dbt.type_string() }}) as lf_name,
            cast('{{ lf.label_task }}' as {{ dbt.type_string() }}) as label_task,
            cast({{ lf.lf_position }} as {{ dbt.type_int() }}) as lf_position,
            cast({{ lf.vote }} as {{ dbt.type_int() }}) as vote,
            cast('{{ "good" if lf.vote == 1 else "bad" }}' as {{ dbt.type_string() }}) as votes_for,
            cast({{ flywheel.sql_string(lf.condition_sql) }} as {{ dbt.type_string() }}) as condition_sql,
            cast({{ flywheel.sql_string(tojson(lf.params, sort_keys=true)) }} as {{ dbt.type_string() }}) as params,
            cast({{ flywheel.sql_string(lf.description) }} as {{ dbt.type_string() }}) as description,
            {{ 'true' if lf.in_label_model else 'false' }} as in_label_model
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select * from definitions
)

select * from final
