{#-
    Incremental builds, one user's history at a time.

    Every event downstream of staging belongs to one user (base_events__validated gives each
    output and each request one owner), and every per-user model (sessions, requests,
    outputs, signals, votes, labels) is a function of that user's events alone. So a build
    recomputes exactly the users whose events changed since the model was last written, whole
    (sessions merged or split by a late event, retention and topic-repeat windows that reach
    across sessions, all of it), and leaves every other user's rows as they are: the result is
    the full refresh's, row for row (python/tests/functional/test_incremental.py).

    "Changed since" is the `_loaded_at` stamp: a model's watermark is the latest stamp in its
    own table, and its users to recompute are those with rows stamped later in the relations
    it is changed by (base_events__validated always; config `changed_by` adds more, e.g. the
    votes for the labels). A build that fails leaves the watermark where it was, so the next
    build recomputes what the failed one did not finish. `_settings_hash` records the vars and
    LF definitions the rows were computed with: when they change, the next build recomputes
    every user.
-#}

{#- The build's stamp: when this dbt invocation started, to the microsecond. -#}
{% macro build_loaded_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#-
    What the rows were computed with: an md5 of the vars below and of every LF definition. A
    build whose settings differ from a model's stored rows recomputes that model whole (every
    user, every raw row), so changing a threshold or an LF needs no --full-refresh to be right.
-#}
{% macro settings_hash() -%}
    {%- set settings = {'labeling_functions': flywheel.labeling_functions()} -%}
    {%- for name in ['flywheel__earliest_event_time', 'flywheel__max_clock_skew_hours',
                     'flywheel__pseudonymize_user_id', 'flywheel__session_gap_minutes',
                     'flywheel__retention_windows_seconds', 'flywheel__rerequest_window_seconds',
                     'flywheel__rephrase_similarity', 'flywheel__topic_repeat_min_hours',
                     'flywheel__topic_repeat_max_hours', 'flywheel__long_click_dwell_seconds',
                     'flywheel__quick_accept_seconds', 'flywheel__read_seconds',
                     'flywheel__long_read_seconds', 'flywheel__skim_seconds', 'flywheel__lf_params',
                     'flywheel__eval_percent', 'flywheel__min_confidence'] -%}
        {%- do settings.update({name: var(name)}) -%}
    {%- endfor -%}
    {{- local_md5(tojson(settings, sort_keys=True)) -}}
{%- endmacro %}

{#- The two bookkeeping columns every incremental model ends with (a select list fragment). -#}
{% macro build_stamp() -%}
    {{ flywheel.build_loaded_at() }} as _loaded_at,
    cast('{{ flywheel.settings_hash() }}' as {{ dbt.type_string() }}) as _settings_hash
{%- endmacro %}

{#- True when this model's stored rows were computed with other settings (or there are none). -#}
{% macro settings_changed() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set stored = run_query(
        'select min(_settings_hash), max(_settings_hash) from ' ~ this
    ).rows[0] -%}
    {%- set current = flywheel.settings_hash() | string | trim -%}
    {{ return(stored[0] != current or stored[1] != current) }}
{%- endmacro %}

{#- The users whose rows the current incremental build of this model recomputes (a query). -#}
{% macro changed_users() -%}
    {#- base_events__validated is upstream of every per-user model already: named through the
        graph, not ref(), so models and their unit tests need no extra dependency -#}
    {%- set relations = [graph.nodes['model.flywheel.base_events__validated'].relation_name] -%}
    {%- for name in (config.get('meta') or {}).get('changed_by', []) -%}
        {%- do relations.append(ref(name)) -%}
    {%- endfor -%}
    {%- if flywheel.settings_changed() %}
        select distinct everyone.user_id
        from {{ relations[0] }} as everyone
        where everyone.user_id is not null
    {%- else %}
        {%- for relation in relations %}
            select changed.user_id
            from {{ relation }} as changed
            where changed.user_id is not null
                and changed._loaded_at > (
                    select coalesce(max(watermark._loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
                    from {{ this }} as watermark
                )
            {{ 'union' if not loop.last }}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

{#- `where user_id in (changed users)` in an incremental build, nothing in a full one. -#}
{% macro for_changed_users() -%}
    {%- if is_incremental() -%}
        where user_id in (select user_id from changed_users)
    {%- endif -%}
{%- endmacro %}

{#- The `changed_users` CTE (followed by a comma) in an incremental build, nothing in a full one. -#}
{% macro changed_users_cte() -%}
    {%- if is_incremental() -%}
changed_users as (
    {{ flywheel.changed_users() }}
),
    {%- endif -%}
{%- endmacro %}

{#-
    incremental_strategy='flywheel_users': every row of the changed users goes (also users
    left with no rows: an event that turned out to be another user's), then the recomputed
    rows come in. Both in the model's transaction.
-#}
{% macro get_incremental_flywheel_users_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ target }}
    where user_id in (
        {{ flywheel.changed_users() }}
        union
        select user_id from {{ source }}
    );
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
{%- endmacro %}

{#-
    The loading window of the raw events (base_events__parsed, base_events__validated): a
    stored row is before the cutoff when its received_at is a valid time earlier than the
    latest valid received_at in `relation` less flywheel__late_arrival_lookback_hours. A build
    re-reads every row that is not: the late arrivals of the lookback, the new rows, and every
    row whose received_at is missing or out of range (judged again each build, so a broken or
    far-future time never moves the mark). With other settings than the stored rows' there is
    no cutoff: everything is re-read.
-#}
{% macro is_before_cutoff(alias, relation) -%}
    {%- set no_cutoff = ' and false' if flywheel.settings_changed() else '' -%}
    coalesce(
        {{ flywheel.is_finite_timestamp(alias ~ '.received_at') }}
        and {{ alias }}.received_at >= cast('{{ var("flywheel__earliest_event_time") }}' as {{ dbt.type_timestamp() }})
        and {{ alias }}.received_at < (
            select {{ dbt.dateadd('hour', -1 * var('flywheel__late_arrival_lookback_hours'), 'max(loaded.received_at)') }}
            from {{ relation }} as loaded
            where loaded.row_rejection_reason is null{{ no_cutoff }}
        ),
        false
    )
{%- endmacro %}

{#-
    incremental_strategy='flywheel_window': the stored rows the build re-read (those not
    before the cutoff) go, and the build's rows come in. Both in the model's transaction.
-#}
{% macro get_incremental_flywheel_window_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ target }}
    where not {{ flywheel.is_before_cutoff(target, target) }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#-
    The materialization of the incremental models: `incremental` where the adapter runs the
    strategies above (duckdb: `delete` and `insert` in one transaction), `table` elsewhere.
    dbt-spark accepts only its own strategies (append, merge, insert_overwrite), and on plain
    parquet tables none of them can delete a user's rows, so on Spark every build is a full
    rebuild, with the same rows.
-#}
{% macro incremental_materialization() -%}
    {{ return('incremental' if adapter.type() == 'duckdb' else 'table') }}
{%- endmacro %}
