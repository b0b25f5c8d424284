"""Write Swedish overrides of Datasette's own page templates into site/templates.

Datasette 0.65 has no translations, so its table, row, query and database pages are copied
from the installed Datasette and their visible English strings replaced. Also: labels for the
filter selects and the SQL box (axe: "select-name", "label"), focusable scrolling tables
("scrollable-region-focusable") and Swedish number formatting. Run again after upgrading
Datasette (a replacement that no longer matches stops the script):

    python scripts/datasette_templates_sv.py
"""

from __future__ import annotations

from pathlib import Path

import datasette

SRC = Path(datasette.__file__).parent / "templates"
DST = Path(__file__).resolve().parent.parent / "site" / "templates"
N = '{{ "{:,}".format(%s).replace(",", "\\u00a0") }}'

REPLACE: dict[str, list[tuple[str, str]]] = {
    "table.html": [
        ('<title id="actions-menu-links-title">Table actions</title>', '<title id="actions-menu-links-title">Åtgärder för tabellen</title>'),
        ("{% if is_view %} (view){% endif %}", "{% if is_view %} (vy){% endif %}"),
        ('{{ "{:,}".format(filtered_table_rows_count) }} row{% if filtered_table_rows_count == 1 %}{% else %}s{% endif %}',
         N % "filtered_table_rows_count" + ' {% if filtered_table_rows_count == 1 %}rad{% else %}rader{% endif %}'),
        ("{% if human_description_en %}{{ human_description_en }}{% endif %}",
         "{% if human_description_en %}{{ human_description_en|sv_beskrivning }}{% endif %}"),
        ('<label for="_search">Search:</label>', '<label for="_search">Sök:</label>'),
        ('<select name="_filter_column_{{ loop.index }}">', '<select name="_filter_column_{{ loop.index }}" aria-label="Kolumn för filter {{ loop.index }}">'),
        ('<option value="">- remove filter -</option>', '<option value="">– ta bort filtret –</option>'),
        ('<select name="_filter_op_{{ loop.index }}">', '<select name="_filter_op_{{ loop.index }}" aria-label="Villkor för filter {{ loop.index }}">'),
        ('<input type="text" name="_filter_value_{{ loop.index }}" class="filter-value" value="{{ value }}">',
         '<input type="text" name="_filter_value_{{ loop.index }}" class="filter-value" value="{{ value }}" aria-label="Värde för filter {{ loop.index }}">'),
        ('<select name="_filter_column">', '<select name="_filter_column" aria-label="Kolumn att filtrera på">'),
        ('<option value="">- column -</option>', '<option value="">– kolumn –</option>'),
        ('<select name="_filter_op">', '<select name="_filter_op" aria-label="Villkor">'),
        ('<input type="text" name="_filter_value" class="filter-value">', '<input type="text" name="_filter_value" class="filter-value" aria-label="Värde">'),
        ("{{ display }}</option>", "{{ display|sv_operator }}</option>"),
        ('<select name="_sort" id="sort_by">', '<select name="_sort" id="sort_by" aria-label="Sortera efter">'),
        ('<option value="">Sort...</option>', '<option value="">Sortera …</option>'),
        (">Sort by {{ column.name }}</option>", ">Sortera efter {{ column.name }}</option>"),
        ("> descending</label>", "> fallande</label>"),
        ('<input type="submit" value="Apply">', '<input type="submit" value="Använd">'),
        ("extra where clause{% if extra_wheres_for_ui|length != 1 %}s{% endif %}", "extra where-villkor"),
        ('[<a href="{{ extra_where.remove_url }}">remove</a>]', '[<a href="{{ extra_where.remove_url }}">ta bort</a>]'),
        ('<span class="underlined">View and edit SQL</span>', '<span class="underlined">Visa och ändra SQL</span>'),
        ('<p class="export-links">This data as ', '<p class="export-links">Som '),
        ('(<a href="#export">advanced</a>)', '(<a href="#export">fler val</a>)'),
        ("These facets timed out:", "Dessa facetter tog för lång tid:"),
        ('<p><a href="{{ next_url }}">Next page</a></p>',
         '<p><a href="{{ next_url }}">Nästa sida</a> <span class="help">(högst {{ settings.max_returned_rows|default(2000) }} rader per sida och per export utan «hämta alla rader»)</span></p>'),
        ("<h3>Advanced export</h3>", "<h3>Export</h3>"),
        ("<p>JSON shape:", "<p>JSON-form:"),
        ('>default</a>,', '>standard</a>,'),
        ('>array</a>,', '>lista</a>,'),
        ('>newline-delimited</a>', '>en rad per post</a>'),
        (">object</a>", ">objekt</a>"),
        ("CSV options:", "CSV:"),
        ("> download file</label>", "> ladda ned som fil</label>"),
        ("> expand labels</label>", "> visa etiketter</label>"),
        ("> stream all rows</label>", "> hämta alla rader</label>"),
        ('<input type="submit" value="Export CSV">', '<input type="submit" value="Exportera CSV">'),
    ],
    "_table.html": [
        ('<div class="table-wrapper">', '<div class="table-wrapper" tabindex="0" role="region" aria-label="Tabellens rader – rulla i sidled">'),
        ('<p class="zero-results">0 records</p>', '<p class="zero-results">Inga rader</p>'),
    ],
    "query.html": [
        ("This query cannot be executed because the database is immutable.", "Frågan kan inte köras: databasen är skrivskyddad."),
        ('<p><textarea id="sql-editor" name="sql"', '<p><label for="sql-editor" class="visually-hidden">SQL-fråga</label><textarea id="sql-editor" name="sql"'),
        ("<h3>Query parameters</h3>", "<h3>Parametrar</h3>"),
        (">Format SQL</button>", ">Formatera SQL</button>"),
        ('<input type="submit" value="Run SQL"', '<input type="submit" value="Kör SQL"'),
        (">Edit SQL</a>", ">Ändra SQL</a>"),
        ('<p class="export-links">This data as ', '<p class="export-links">Som '),
        ('<div class="table-wrapper">', '<div class="table-wrapper" tabindex="0" role="region" aria-label="Resultatet – rulla i sidled">'),
        ('<p class="zero-results">0 results</p>', '<p class="zero-results">Inga rader</p>'),
    ],
    "database.html": [
        ('<title id="actions-menu-links-title">Table actions</title>', '<title id="actions-menu-links-title">Åtgärder för databasen</title>'),
        ("<h3>Custom SQL query</h3>", '<h3><label for="sql-editor">Egen SQL-fråga</label></h3>'),
        (">Format SQL</button>", ">Formatera SQL</button>"),
        ('<input type="submit" value="Run SQL">', '<input type="submit" value="Kör SQL">'),
        ("The following databases are attached to this connection, and can be used for cross-database joins:",
         "Dessa databaser är anslutna och kan användas i frågor över flera databaser:"),
        ('<h2 id="queries">Queries</h2>', '<h2 id="queries">Färdiga frågor</h2>'),
        ('<h2 id="tables">Tables</h2>', '<h2 id="tables">Tabeller</h2>'),
        ("<em> (hidden)</em>", "<em> (dold)</em>"),
        ('{% if table.count is none %}Many rows{% else %}{{ "{:,}".format(table.count) }} row{% if table.count == 1 %}{% else %}s{% endif %}{% endif %}',
         '{% if table.count is none %}Många rader{% else %}' + N % "table.count" + ' {% if table.count == 1 %}rad{% else %}rader{% endif %}{% endif %}'),
        ('<p>... and <a href="{{ urls.database(database) }}?_show_hidden=1">{{ "{:,}".format(hidden_count) }} hidden table{% if hidden_count == 1 %}{% else %}s{% endif %}</a></p>',
         '<p>… och <a href="{{ urls.database(database) }}?_show_hidden=1">' + N % "hidden_count" + ' dolda tabeller</a> (interna index)</p>'),
        ('<h2 id="views">Views</h2>', '<h2 id="views">Vyer</h2>'),
        ("Download SQLite DB:", "Ladda ned databasen (SQLite):"),
    ],
    "row.html": [
        ("<p>This data as ", "<p>Som "),
        ("<h2>Links from other tables</h2>", "<h2>Länkar från andra tabeller</h2>"),
        ('{{ "{:,}".format(other.count) }} row{% if other.count == 1 %}{% else %}s{% endif %}</a>\n                from {{ other.other_column }} in {{ other.other_table }}',
         N % "other.count" + ' {% if other.count == 1 %}rad{% else %}rader{% endif %}</a>\n                via {{ other.other_column }} i {{ other.other_table }}'),
    ],
    "_suggested_facets.html": [("Suggested facets:", "Föreslagna facetter:")],
    "_codemirror_foot.html": [('          lineWrapping: true,\n        });',
                               '          lineWrapping: true,\n        });\n        editor.getInputField().setAttribute("aria-label", "SQL-fråga");')],
    "_facet_results.html": [
        ('class="cross">&#x2716;</a>\n                {% endif %}', 'class="cross" aria-label="Ta bort facetten {{ facet_info.name }}">&#x2716;</a>\n                {% endif %}'),
        ('{{ "{:,}".format(facet_value.count) }} <a href="{{ facet_value.toggle_url }}" class="cross">&#x2716;</a>',
         N % "facet_value.count" + ' <a href="{{ facet_value.toggle_url }}" class="cross" aria-label="Ta bort filtret">&#x2716;</a>'),
    ],
}


def main() -> None:
    for name, pairs in REPLACE.items():
        text = (SRC / name).read_text(encoding="utf-8")
        for old, new in pairs:
            if old not in text:
                raise SystemExit(f"{name}: '{old[:60]}' finns inte längre i Datasettes mall – uppdatera ersättningarna")
            text = text.replace(old, new)
        header = f"{{#- Swedish override of Datasette {datasette.__version__}'s {name}, written by scripts/datasette_templates_sv.py. -#}}\n"
        (DST / name).write_text(header + text, encoding="utf-8")
        print(f"{DST / name}: {len(pairs)} ersättningar")


if __name__ == "__main__":
    main()
