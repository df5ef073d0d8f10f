{#-
    A bound of the Wilson score interval for a proportion: `successes` of `trials` (SQL
    expressions), `side` -1 for the lower bound and 1 for the upper, at normal quantile `z`
    (1.96: 95%). Null when there are no trials. Unlike the normal approximation it stays inside
    [0, 1] and is honest for small counts and proportions near 0 or 1 (Wilson, 1927).
-#}
{% macro wilson_bound(successes, trials, side, z=1.96) -%}
    {%- set n = "cast(nullif(" ~ trials ~ ", 0) as " ~ flywheel.type_double() ~ ")" -%}
    {%- set p = "(cast(" ~ successes ~ " as " ~ flywheel.type_double() ~ ") / " ~ n ~ ")" -%}
    {%- set z2 = z * z -%}
    (({{ p }} + {{ z2 }} / (2 * {{ n }}) {{ '-' if side < 0 else '+' }} {{ z }} * sqrt({{ p }} * (1 - {{ p }}) / {{ n }} + {{ z2 }} / (4 * {{ n }} * {{ n }})))
    / (1 + {{ z2 }} / {{ n }}))
{%- endmacro %}
