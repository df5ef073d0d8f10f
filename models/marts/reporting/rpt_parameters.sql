{#-
    The report's bins and thresholds, one row per parameter: the dbt vars `flywheel__report_*`
    (dbt_project.yml). The rpt_* models bin and filter with them, and `flywheel report` reads
    them here, so its page and its notes use the same values as the SQL.
-#}
with

parameters as (
    select 'histogram_bins' as parameter_name, {{ var('flywheel__report_histogram_bins') }} as parameter_value
    union all
    select 'calibration_bins' as parameter_name, {{ var('flywheel__report_calibration_bins') }} as parameter_value
    union all
    select 'min_daily_outputs' as parameter_name, {{ var('flywheel__report_min_daily_outputs') }} as parameter_value
    union all
    select 'drift_top_metrics' as parameter_name, {{ var('flywheel__report_drift_top_metrics') }} as parameter_value
),

final as (
    select
        parameter_name,
        cast(parameter_value as {{ dbt.type_int() }}) as parameter_value
    from parameters
)

select * from final
