{#-
    The raw events as a relation with the ten contract columns as text (plus `raw_line` and
    `is_unreadable_line`), from the file `flywheel__events_path` or, when it is '', from the
    source table `flywheel__raw_schema`.`flywheel__raw_table`. The one place a path or a
    relation name from configuration reaches SQL:
    - a path becomes a quoted SQL string literal (quotes doubled), never pasted: a path with
      quotes, spaces or SQL in it is just a file name;
    - schema and table names must be plain identifiers (letters, digits, underscores), else
      the build stops naming the var;
    - CSV columns are matched by their header names, not their position; a file without a
      column of the contract stops the build naming the column (a schema change fails loudly);
      a malformed CSV line is read leniently (missing fields null, a broken quote as text, extra
      fields dropped), so validation quarantines it instead of the reader failing the build;
    - JSON lines are read line by line, so a line that is not a JSON object becomes a
      quarantine row (`unreadable_line`) instead of failing the build;
    - typed files (parquet, or JSON values that are numbers or objects) are turned into the
      contract's text: nested `properties` into JSON text, numeric times into epoch text.
-#}
{% macro raw_events() -%}
    {#- the contract's columns, in order -#}
    {%- set contract = [
        'event_id', 'occurred_at', 'received_at', 'user_id', 'surface', 'event_type',
        'request_id', 'output_id', 'model_version', 'properties',
    ] -%}
    {%- set path = var('flywheel__events_path') -%}
    {%- if not path -%}
        {%- for name in ['flywheel__raw_schema', 'flywheel__raw_table'] -%}
            {{ flywheel.check_identifier_var(name) }}
        {%- endfor -%}
        {{ return(flywheel.raw_from_relation(
            source('flywheel', 'raw_events'), contract, 'raw events', describe=false
        )) }}
    {%- endif -%}
    {{ return(flywheel.raw_from_file(path, contract, 'flywheel__events_path', 'raw events')) }}
{%- endmacro %}


{#-
    The golden labels (a small human-labelled set: output_id, label, optional labeled_by and
    labeled_at) as a relation with those columns as text (plus `raw_line`, `is_unreadable_line`),
    read like the events: from the file `flywheel__golden_labels_path` (parquet, csv, jsonl),
    else from the table `flywheel__raw_schema`.`flywheel__golden_labels_table` when that var
    names one. With neither (the default) there is no gold: an empty relation, gold metrics null.
-#}
{% macro raw_golden_labels() -%}
    {%- set contract = ['output_id', 'label', 'labeled_by', 'labeled_at'] -%}
    {%- set optional = ['labeled_by', 'labeled_at'] -%}
    {%- set path = var('flywheel__golden_labels_path') -%}
    {%- if path -%}
        {{ return(flywheel.raw_from_file(
            path, contract, 'flywheel__golden_labels_path', 'golden labels', optional
        )) }}
    {%- endif -%}
    {%- if var('flywheel__golden_labels_table') -%}
        {%- for name in ['flywheel__raw_schema', 'flywheel__golden_labels_table'] -%}
            {{ flywheel.check_identifier_var(name) }}
        {%- endfor -%}
        {{ return(flywheel.raw_from_relation(
            source('flywheel', 'golden_labels'), contract, 'golden labels', describe=false
        )) }}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for name in contract -%}
        {%- do columns.append("cast(null as " ~ dbt.type_string() ~ ") as " ~ name) -%}
    {%- endfor -%}
    {{ return(
        "(select " ~ columns | join(', ')
        ~ ", cast(null as " ~ dbt.type_string() ~ ") as raw_line, false as is_unreadable_line where false)"
    ) }}
{%- endmacro %}


{#- Stop the build unless the var is a plain identifier (a schema or table name). -#}
{% macro check_identifier_var(name) -%}
    {%- if not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', var(name) | string) -%}
        {{ exceptions.raise_compiler_error(
            name ~ " must be a plain identifier (letters, digits, underscores), got "
            ~ (var(name) | string | tojson)
        ) }}
    {%- endif -%}
{%- endmacro %}


{#- A file of the contract's columns as text, its reader chosen by the extension of `path`
    (the value of the var `path_var`, named in the error). -#}
{% macro raw_from_file(path, contract, path_var, what, optional=[]) -%}
    {%- set path = path | string -%}
    {%- set lower = path.lower() -%}
    {%- if lower.endswith('.jsonl') or lower.endswith('.ndjson') or lower.endswith('.json') -%}
        {{ return(flywheel.raw_from_json_lines(path, contract)) }}
    {%- elif lower.endswith('.csv') -%}
        {%- set reader = flywheel.csv_reader(path) -%}
        {{ return(flywheel.raw_from_relation(reader, contract, what, optional=optional)) }}
    {%- elif lower.endswith('.parquet') -%}
        {%- set reader = flywheel.parquet_reader(path) -%}
        {{ return(flywheel.raw_from_relation(reader, contract, what, optional=optional)) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        path_var ~ " must end in .parquet, .csv, .json, .jsonl or .ndjson, got " ~ (path | tojson)
    ) }}
{%- endmacro %}


{#- A parquet file (or a glob of them) as a relation. Dispatched per adapter. -#}
{% macro parquet_reader(path) -%}
    {{- adapter.dispatch('parquet_reader', 'flywheel')(path) -}}
{%- endmacro %}

{% macro default__parquet_reader(path) -%}
    {{ return(flywheel.missing_implementation('parquet_reader', ', or read a table (flywheel__events_path: "")')) }}
{%- endmacro %}

{% macro duckdb__parquet_reader(path) -%}
    read_parquet({{ flywheel.sql_string(path) }})
{%- endmacro %}

{% macro spark__parquet_reader(path) -%}
    parquet.{{ flywheel.spark_path(path) }}
{%- endmacro %}

{#- A path as Spark's quoted file identifier (`path`, backticks doubled): a file name, never SQL. -#}
{% macro spark_path(path) -%}
    `{{ (path | string).replace('`', '``') }}`
{%- endmacro %}


{#-
    A table or file reader with the contract's columns, by name, as text. A file is described
    at run time: a missing column stops the build naming it (an `optional` one is null), and
    nested or numeric columns are turned into text. An undescribed table is selected by column
    name (a missing column fails naming it).
-#}
{% macro raw_from_relation(relation, contract, what, describe=true, optional=[]) -%}
    {%- set types = {} -%}
    {%- if execute and describe -%}
        {%- set described = run_query(flywheel.describe_query("select * from " ~ relation)) -%}
        {%- for row in described.rows -%}
            {%- do types.update({row[0] | lower: row[1] | upper}) -%}
        {%- endfor -%}
        {%- set missing = contract | reject('in', types) | reject('in', optional) | list -%}
        {%- if missing -%}
            {{ exceptions.raise_compiler_error(
                what ~ " " ~ relation ~ " have no column " ~ missing | join(', ')
                ~ " (they have: " ~ types.keys() | list | join(', ') ~ "): see the contract in the README"
            ) }}
        {%- endif -%}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for name in contract -%}
        {%- set data_type = types.get(name, 'VARCHAR') -%}
        {%- if describe and name not in types -%}
            {%- do columns.append("cast(null as " ~ dbt.type_string() ~ ") as " ~ name) -%}
        {%- elif name == 'properties' and (data_type.startswith('STRUCT') or data_type.startswith('MAP')
            or data_type.endswith('[]') or data_type.startswith('ARRAY') or data_type == 'JSON') -%}
            {%- do columns.append("cast(to_json(" ~ adapter.quote(name) ~ ") as " ~ dbt.type_string() ~ ") as " ~ name) -%}
        {%- else -%}
            {%- do columns.append("cast(" ~ adapter.quote(name) ~ " as " ~ dbt.type_string() ~ ") as " ~ name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set sql -%}
        (
            select
                {{ columns | join(',\n                ') }},
                cast(null as {{ dbt.type_string() }}) as raw_line,
                false as is_unreadable_line
            from {{ relation }}
        )
    {%- endset -%}
    {{ return(sql) }}
{%- endmacro %}


{#-
    JSON lines, one row per non-blank line whatever it holds: fields by key (numbers and
    nested objects as JSON text), and `is_unreadable_line` when the line is not a JSON object.
-#}
{% macro raw_from_json_lines(path, contract) -%}
    {{ return(adapter.dispatch('raw_from_json_lines', 'flywheel')(path, contract)) }}
{%- endmacro %}

{% macro default__raw_from_json_lines(path, contract) -%}
    {{ return(flywheel.missing_implementation(
        'raw_from_json_lines', ', or read a table (flywheel__events_path: "")'
    )) }}
{%- endmacro %}

{% macro duckdb__raw_from_json_lines(path, contract) -%}
    {#- A file that is valid UTF-8 (checked first, cheaply) is read line by line by DuckDB's
        reader; one that is not is split into lines byte by byte (slower, exact), and a line
        that is not valid UTF-8 stays unreadable (kept with its other bytes as \xNN). -#}
    {%- set is_utf8 = true -%}
    {%- if execute -%}
        {%- set checked = run_query(
            "select try(decode(content)) is not null from read_blob(" ~ flywheel.sql_string(path) ~ ")"
        ).rows -%}
        {%- set is_utf8 = checked | length == 0 or checked[0][0] -%}
    {%- endif -%}
    {%- if is_utf8 -%}
        {%- set lines -%}
            (
                select
                    raw_line,
                    raw_line as line
                from read_csv(
                    {{ flywheel.sql_string(path) }},
                    columns = {'raw_line': 'varchar'}, header = false, auto_detect = false,
                    delim = chr(30), quote = '', escape = '', strict_mode = false,
                    max_line_size = 67108864
                )
            )
        {%- endset -%}
    {%- else -%}
        {%- set lines -%}
            (
                select
                    -- an undecodable line as text: printable ASCII kept, other bytes as \xNN
                    coalesce(line, array_to_string(list_transform(
                        regexp_extract_all(line_hex, '..'),
                        lambda b: case when b between '20' and '7E' then chr(cast('0x' || b as integer))
                            else '\x' || lower(b) end
                    ), '')) as raw_line,
                    line
                from (
                    select
                        line_hex,
                        try(decode(from_hex(regexp_replace(line_hex, '0D$', '')))) as line
                    from (
                        select unnest(regexp_extract_all(hex(content) || '0A', '((?:[0-9A-F]{2})*?)0A', 1)) as line_hex
                        from read_blob({{ flywheel.sql_string(path) }})
                    ) as split
                    where line_hex != ''
                ) as decoded
            )
        {%- endset -%}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for name in contract -%}
        {%- set key = "'$." ~ name ~ "'" -%}
        {%- do columns.append(
            "case when is_object then case json_type(line, " ~ key ~ ") when 'VARCHAR' then "
            ~ "json_extract_string(line, " ~ key ~ ") when 'NULL' then null else "
            ~ "cast(json_extract(line, " ~ key ~ ") as varchar) end end as " ~ name
        ) -%}
    {%- endfor -%}
    {%- set sql -%}
        (
            select
                {{ columns | join(',\n                ') }},
                raw_line,
                not is_object as is_unreadable_line
            from (
                select
                    raw_line,
                    line,
                    coalesce({{ flywheel.is_json_object('line') }}, false) as is_object
                from {{ lines }} as read_lines
                where {{ flywheel.clean_text('raw_line') }} is not null
            ) as lines
        )
    {%- endset -%}
    {{ return(sql) }}
{%- endmacro %}


{#-
    A CSV reader that turns every line into a row, columns named by the file's header (read
    first, so the columns match by name, not position), all text. Lenient on purpose: a short
    line is padded with nulls, a broken quote read as text, extra fields dropped, so the
    validation rules (not the reader) decide and quarantine.
-#}
{% macro csv_reader(path) -%}
    {{- adapter.dispatch('csv_reader', 'flywheel')(path) -}}
{%- endmacro %}

{% macro default__csv_reader(path) -%}
    {{ return(flywheel.missing_implementation('csv_reader', ', or read a table (flywheel__events_path: "")')) }}
{%- endmacro %}

{% macro duckdb__csv_reader(path) -%}
    {%- set header = [] -%}
    {%- if execute -%}
        {%- set first = run_query(
            "select raw_line from read_csv(" ~ flywheel.sql_string(path) ~ ", columns = {'raw_line': 'varchar'}, "
            ~ "header = false, auto_detect = false, delim = chr(30), quote = '', escape = '', "
            ~ "strict_mode = false) limit 1"
        ).rows -%}
        {%- for name in ((first[0][0] if first else '') or '').split(',') -%}
            {%- do header.append(name.strip().strip('"').strip()) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if not header -%}
        {{ return("read_csv(" ~ flywheel.sql_string(path) ~ ", header = true, all_varchar = true)") }}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for name in header -%}
        {%- do columns.append(flywheel.sql_string(name or ('column' ~ loop.index0)) ~ ": 'varchar'") -%}
    {%- endfor -%}
    {{ return(
        "read_csv(" ~ flywheel.sql_string(path) ~ ", header = true, auto_detect = false, columns = {"
        ~ columns | join(', ') ~ "}, delim = ',', quote = '\"', escape = '\"', strict_mode = false, "
        ~ "null_padding = true, parallel = false, max_line_size = 67108864)"
    ) }}
{%- endmacro %}


{#-
    Spark: every line of the file is a row (Spark's text reader), its fields by key: strings
    as they are, numbers, booleans and nested objects as JSON text, JSON null as null; a line
    that is not a JSON object is `is_unreadable_line` (Spark reads undecodable bytes as U+FFFD).
-#}
{% macro spark__raw_from_json_lines(path, contract) -%}
    {%- set columns = [] -%}
    {%- for name in contract -%}
        {%- do columns.append("case when is_object then get_json_object(line, '$." ~ name ~ "') end as " ~ name) -%}
    {%- endfor -%}
    {%- set sql -%}
        (
            select
                {{ columns | join(',\n                ') }},
                raw_line,
                not is_object as is_unreadable_line
            from (
                select
                    value as raw_line,
                    value as line,
                    {{ flywheel.is_json_object('value') }} as is_object
                from text.{{ flywheel.spark_path(path) }}
            ) as lines
            where {{ flywheel.clean_text('raw_line') }} is not null
        )
    {%- endset -%}
    {{ return(sql) }}
{%- endmacro %}


{#-
    Spark: a CSV file through a temporary view with Spark's CSV reader (header, every column as
    text, malformed lines kept leniently), made on the model's connection when it runs.
-#}
{% macro spark__csv_reader(path) -%}
    {%- set view = 'flywheel_csv_' ~ local_md5(path | string) -%}
    {%- if execute -%}
        {%- do run_query(
            "create or replace temporary view " ~ view ~ " using csv options (path "
            ~ flywheel.spark_string(path) ~ ", header 'true', inferSchema 'false', mode 'PERMISSIVE', "
            ~ "multiLine 'false', quote '\"', escape '\"')"
        ) -%}
    {%- endif -%}
    {{ return(view) }}
{%- endmacro %}

{#- A Jinja string as a Spark SQL string literal (backslashes and single quotes escaped). -#}
{% macro spark_string(value) -%}
    '{{ (value | string).replace("\\", "\\\\").replace("'", "\\'") }}'
{%- endmacro %}

{#- The statement that describes a query's columns (rows: name, type, ...). Dispatched. -#}
{% macro describe_query(sql) -%}
    {{- adapter.dispatch('describe_query', 'flywheel')(sql) -}}
{%- endmacro %}

{% macro default__describe_query(sql) -%}
    describe {{ sql }}
{%- endmacro %}

{% macro spark__describe_query(sql) -%}
    describe query {{ sql }}
{%- endmacro %}
