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
            {%- if not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', var(name) | string) -%}
                {{ exceptions.raise_compiler_error(
                    name ~ " must be a plain identifier (letters, digits, underscores), got "
                    ~ (var(name) | string | tojson)
                ) }}
            {%- endif -%}
        {%- endfor -%}
        {{ return(flywheel.raw_events_from_relation(source('flywheel', 'raw_events'), contract, describe=false)) }}
    {%- endif -%}
    {%- set path = path | string -%}
    {%- set lower = path.lower() -%}
    {%- if lower.endswith('.jsonl') or lower.endswith('.ndjson') or lower.endswith('.json') -%}
        {{ return(flywheel.raw_events_from_json_lines(path, contract)) }}
    {%- elif lower.endswith('.csv') -%}
        {{ return(flywheel.raw_events_from_relation(flywheel.csv_reader(path), contract)) }}
    {%- elif lower.endswith('.parquet') -%}
        {%- set reader = "read_parquet(" ~ flywheel.sql_string(path) ~ ")" -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "flywheel__events_path must end in .parquet, .csv, .json, .jsonl or .ndjson, got "
            ~ (path | tojson)
        ) }}
    {%- endif -%}
    {{ return(flywheel.raw_events_from_relation(reader, contract)) }}
{%- endmacro %}


{#-
    A table or file reader with the contract's columns, by name, as text. A file is described
    at run time: a missing column stops the build naming it, and nested or numeric columns are
    turned into text. A table is selected by column name (a missing column fails naming it).
-#}
{% macro raw_events_from_relation(relation, contract, describe=true) -%}
    {%- set types = {} -%}
    {%- if execute and describe -%}
        {%- set described = run_query("describe select * from " ~ relation) -%}
        {%- for row in described.rows -%}
            {%- do types.update({row[0] | lower: row[1] | upper}) -%}
        {%- endfor -%}
        {%- set missing = contract | reject('in', types) | list -%}
        {%- if missing -%}
            {{ exceptions.raise_compiler_error(
                "raw events " ~ relation ~ " have no column " ~ missing | join(', ')
                ~ " (they have: " ~ types.keys() | list | join(', ') ~ "): see the event contract"
            ) }}
        {%- endif -%}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for name in contract -%}
        {%- set data_type = types.get(name, 'VARCHAR') -%}
        {%- if name == 'properties' and (data_type.startswith('STRUCT') or data_type.startswith('MAP')
            or data_type.endswith('[]') or data_type == 'JSON') -%}
            {%- do columns.append("cast(to_json(" ~ adapter.quote(name) ~ ") as varchar) as " ~ name) -%}
        {%- else -%}
            {%- do columns.append("cast(" ~ adapter.quote(name) ~ " as varchar) as " ~ name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set sql -%}
        (
            select
                {{ columns | join(',\n                ') }},
                cast(null as varchar) as raw_line,
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
{% macro raw_events_from_json_lines(path, contract) -%}
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
