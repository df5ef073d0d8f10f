{#-
    The labeling functions of `labeling_functions()`, checked and ready to compile: each entry
    gains `condition_sql` (the condition with its params filled in, after the overrides of the
    var flywheel__lf_params), `lf_position` (0-based order) and `in_label_model` (false when the
    var flywheel__lfs_excluded_from_fit lists it: still computed and validated, not fitted). Raises a compile error naming
    the entry for a duplicate or badly formed name, a vote other than 0 / 1, a param without a
    numeric value, a `{param}` the entry does not define, an override of an unknown LF or
    param, or an exclusion of an unknown LF.
-#}
{% macro lf_definitions() -%}
    {%- set overrides = var('flywheel__lf_params') or {} -%}
    {%- set excluded = var('flywheel__lfs_excluded_from_fit') or [] -%}
    {%- if excluded is string -%}
        {%- set excluded = [excluded] -%}
    {%- endif -%}
    {%- set names = [] -%}
    {%- set resolved = [] -%}
    {%- for lf in flywheel.labeling_functions() -%}
        {%- set name = lf.get('name', '') -%}
        {%- if not (name is string and name.startswith('lf_') and name == name.lower()
                    and name.replace('_', '').isalnum()) -%}
            {{ exceptions.raise_compiler_error(
                "labeling_functions: LF name " ~ name
                ~ " must be lowercase letters, digits and underscores, starting with lf_"
            ) }}
        {%- endif -%}
        {%- if name in names -%}
            {{ exceptions.raise_compiler_error("labeling_functions: " ~ name ~ " is defined twice") }}
        {%- endif -%}
        {%- do names.append(name) -%}
        {%- if lf.get('vote') not in [0, 1] -%}
            {{ exceptions.raise_compiler_error(
                "labeling_functions: " ~ name ~ ": vote must be 1 (good) or 0 (bad), got " ~ lf.get('vote')
            ) }}
        {%- endif -%}
        {%- if not lf.get('label_task') or not lf.get('condition') or not lf.get('description') -%}
            {{ exceptions.raise_compiler_error(
                "labeling_functions: " ~ name ~ " needs a label_task, a condition and a description"
            ) }}
        {%- endif -%}
        {%- set params = {} -%}
        {%- do params.update(lf.get('params') or {}) -%}
        {%- for key, value in (overrides.get(name) or {}).items() -%}
            {%- if key not in params -%}
                {{ exceptions.raise_compiler_error(
                    "flywheel__lf_params: " ~ name ~ " has no param " ~ key
                    ~ " (it has: " ~ (params.keys() | list | join(', ') or 'none') ~ ")"
                ) }}
            {%- endif -%}
            {%- do params.update({key: value}) -%}
        {%- endfor -%}
        {%- set ns = namespace(sql=lf['condition']) -%}
        {%- for key, value in params.items() -%}
            {%- if value is not number or value is boolean -%}
                {{ exceptions.raise_compiler_error(
                    "labeling_functions: " ~ name ~ ": param " ~ key ~ " must be a number, got " ~ value
                ) }}
            {%- endif -%}
            {%- set ns.sql = ns.sql.replace('{' ~ key ~ '}', value | string) -%}
        {%- endfor -%}
        {%- if '{' in ns.sql or '}' in ns.sql -%}
            {{ exceptions.raise_compiler_error(
                "labeling_functions: " ~ name ~ ": the condition uses a {param} it does not define: " ~ ns.sql
            ) }}
        {%- endif -%}
        {%- do resolved.append({
            'name': name, 'label_task': lf['label_task'], 'vote': lf['vote'],
            'condition': lf['condition'], 'condition_sql': ns.sql, 'params': params,
            'description': lf['description'], 'lf_position': loop.index0,
            'in_label_model': name not in excluded,
        }) -%}
    {%- endfor -%}
    {%- for name in overrides.keys() if name not in names -%}
        {{ exceptions.raise_compiler_error("flywheel__lf_params: unknown labeling function " ~ name) }}
    {%- endfor -%}
    {%- for name in excluded if name not in names -%}
        {{ exceptions.raise_compiler_error(
            "flywheel__lfs_excluded_from_fit: unknown labeling function " ~ name
            ~ " (the LFs are: " ~ names | join(', ') ~ ")"
        ) }}
    {%- endfor -%}
    {{ return(resolved) }}
{%- endmacro %}
