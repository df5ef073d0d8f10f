{#-
    The bin of a probability among `n_bins` equal bins of [0, 1], 0-based (1.0 falls in the last
    bin). The report's histogram and calibration bin P(good) the same way through it.
-#}
{% macro probability_bin(expression, n_bins) -%}
    cast(least(floor({{ expression }} * {{ n_bins }}), {{ n_bins - 1 }}) as {{ dbt.type_int() }})
{%- endmacro %}
