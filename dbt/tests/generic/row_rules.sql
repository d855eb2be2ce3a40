{#
    Every rule a single row of the model must keep, as one test: fails with one row per
    rule that some row breaks (failed_check, failing_rows), from one scan of the model.
    Each argument is optional:

    - not_null: columns that never hold a NULL;
    - non_negative: columns never below 0 (counts, durations and sums of them); a NULL
      passes, list the column under not_null too if it must be set;
    - between: groups `{columns: [...], min_value: a, max_value: b}` (rates in % between
      0 and 100, fractions between 0 and 1, scores); a NULL (a rate over nothing) passes;
    - accepted_values: `{column: [value, ...]}` (strings are quoted, numbers are not); a
      NULL passes;
    - expressions: business rules over one row's columns, such as
      `watched_ms >= played_ms + stalled_ms`, broken when false or NULL;
    - unique: the columns of the model's grain (its primary key), which no two rows share;
      its failing rows are the rows whose key another row has too. Rows are grouped by one
      64-bit hash of the key first, and by the key's columns only the rows whose hash
      occurs more than once: exact whatever the collisions, and cheaper than grouping
      every row by its columns.

    Why one test per model and severity rather than one per rule or per column: dbt spends
    about 40 ms of CPU scheduling, compiling, running and recording each test node, on one
    core whatever its thread count (the work is Python under one interpreter lock), while
    DuckDB checks all of a model's rules in one scan of the rows a build wrote. A test per
    rule (105 of them, now 33) made a build's fixed cost grow with every rule of every
    model, and so did a primary-key test beside each model's row rules (one node per
    model more, until issue 17 folded them in as `unique`).
    The failing rules are the rows the test returns: run its compiled SQL
    (target/compiled, or `compiled_code` in target/run_results.json) to see them. An empty
    model fails nothing; a NULL condition is no failure (hence the NULL rules above).
#}
{% test row_rules(
    model, not_null=[], non_negative=[], between=[], accepted_values={}, expressions=[],
    unique=[]
) %}

{%- set checks = [] -%}
{%- for column in not_null -%}
    {%- do checks.append(['not_null: ' ~ column, column ~ ' is null']) -%}
{%- endfor -%}
{%- for column in non_negative -%}
    {%- do checks.append(['non_negative: ' ~ column, column ~ ' < 0']) -%}
{%- endfor -%}
{%- for group in between -%}
    {%- for column in group['columns'] -%}
        {%- do checks.append([
            'between ' ~ group['min_value'] ~ ' and ' ~ group['max_value'] ~ ': ' ~ column,
            column ~ ' < ' ~ group['min_value'] ~ ' or ' ~ column ~ ' > ' ~ group['max_value'],
        ]) -%}
    {%- endfor -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- if value is string -%}
            {%- do quoted.append("'" ~ (value | replace("'", "''")) ~ "'") -%}
        {%- else -%}
            {%- do quoted.append(value | string) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do checks.append([
        'accepted_values: ' ~ column, column ~ ' not in (' ~ quoted | join(', ') ~ ')'
    ]) -%}
{%- endfor -%}
{%- for expression in expressions -%}
    {%- do checks.append(['rule: ' ~ expression, 'not coalesce(' ~ expression ~ ', false)']) -%}
{%- endfor -%}

{#- One scan counts the rows breaking each check; one result row per check with any. #}
with

{% if checks -%}
counts as (

    select
        {%- for check in checks %}
        sum(case when {{ check[1] }} then 1 else 0 end) as failing_{{ loop.index }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from {{ model }}

){% if unique %},{% endif %}

{% endif -%}
{% if unique -%}
repeated_hashes as (

    select {{ key_hash(none, unique) }} as key_hash

    from {{ model }}

    group by 1

    having count(*) > 1

),

repeated_keys as (

    select count(*) as n_rows

    from {{ model }}

    where {{ key_hash(none, unique) }} in (
        select repeated_hashes.key_hash from repeated_hashes
    )

    group by {{ unique | join(', ') }}

    having count(*) > 1

)

{% endif -%}
{% for check in checks -%}
select '{{ check[0] | replace("'", "''") }}' as failed_check, failing_{{ loop.index }} as failing_rows
from counts
where failing_{{ loop.index }} > 0
{% if not loop.last or unique %}union all
{% endif -%}
{%- endfor %}
{%- if unique %}
select 'unique: {{ unique | join(', ') }}' as failed_check, sum(n_rows) as failing_rows
from repeated_keys
having count(*) > 0
{%- endif %}

{% endtest %}
