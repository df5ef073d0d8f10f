{#-
    The body of a "nothing is lost" singular test: one row (a failure) when the raw rows read
    (`raw_relation`, the same reader staging reads) are not the valid rows (`valid_model`) plus
    the repeated ones (`validated_model` where is_duplicate) plus the rejected ones
    (`rejected_model`).
-#}
{% macro reconcile_counts(raw_relation, valid_model, validated_model, rejected_model) -%}
with

raw_count as (
    select count(*) as n from {{ raw_relation }} as raw_rows
),

valid_count as (
    select count(*) as n from {{ valid_model }}
),

duplicate_count as (
    select count(*) as n from {{ validated_model }}
    where is_duplicate
),

rejected_count as (
    select count(*) as n from {{ rejected_model }}
),

compared as (
    select
        raw_count.n as raw_rows,
        valid_count.n as valid_rows,
        duplicate_count.n as duplicate_rows,
        rejected_count.n as rejected_rows
    from raw_count
    cross join valid_count
    cross join duplicate_count
    cross join rejected_count
)

select * from compared
where raw_rows != valid_rows + duplicate_rows + rejected_rows
{%- endmacro %}
