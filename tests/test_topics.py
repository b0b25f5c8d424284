"""Topics: taxonomy, tagging on the real corpus, the tagging evaluation, query expansion and pages."""



from rapportsok.tagging_evaluation import evaluate
from rapportsok.topics import expand_query, load_topics, match_text

REQUIRED = ["sspf", "sig", "avhoppare", "familjehem", "jourhem", "hvb", "sis", "stodboende", "skyddat_boende",
            "vald_nara_relation", "hedersvald", "placeringar", "orosanmalan", "ekonomiskt_bistand", "missbruk", "lvm",
            "lvu", "lss", "personlig_assistans", "daglig_verksamhet", "bostad_sarskild_service", "socialpsykiatri",
            "ensamkommande", "skolfam", "hemloshet", "sjukfranvaro", "budget_prognos", "statsbidrag"]


def tagged(conn, topic):
    return [dict(r) for r in conn.execute(
        "select ct.*, c.text, r.source_file from chunk_topics ct join chunks c on c.id = ct.chunk_id "
        "join reports r on r.id = c.report_id where topic_id = ?", [topic])]


def test_taxonomy_is_complete():
    topics = load_topics()
    assert len(topics) >= 30
    ids = {t.id for t in topics}
    assert set(REQUIRED) <= ids
    for t in topics:
        assert t.label and t.definition.endswith(".") and t.group and (t.synonyms or t.abbreviations)
    assert load_topics()[0].abbreviations == {"SSPF": "samverkan skola socialtjänst polis fritid"}


def test_sspf_tagged_in_kalmar_2022_and_nacka_2023_with_and_without_acronym(conn):
    rows = tagged(conn, "sspf")
    files = {r["source_file"] for r in rows}
    assert {"000_f034ae467e1d69b6.txt", "001_63e6c9868031b1b7.txt", "002_296cc42e6fadf766.txt"} <= files
    without = [r for r in rows if "SSPF" not in r["text"]]
    assert any("skola, socialtjänst, polis, fritid" in r["text"] and r["source_file"] == "000_f034ae467e1d69b6.txt" for r in without)
    assert all(r["evidence"] for r in rows)


def test_skyddat_boende_in_nacka_and_helsingborg_via_skyddsplaceringar(conn):
    rows = tagged(conn, "skyddat_boende")
    assert {r["municipality"] for r in rows} >= {"Nacka", "Helsingborg"}
    hbg = [r for r in rows if r["municipality"] == "Helsingborg"]
    assert any("skyddsplaceringar" in r["text"] and "skyddat boende" not in r["text"] for r in hbg)


def test_familjehem_in_all_five_reports(conn):
    assert {r["source_file"] for r in tagged(conn, "familjehem")} == {
        "000_f034ae467e1d69b6.txt", "001_63e6c9868031b1b7.txt", "002_296cc42e6fadf766.txt",
        "003_aa15bfdefd7f5155.txt", "004_85a1eb49e75a5e5b.txt"}


def test_abbreviations_are_case_sensitive():
    assert [m.topic for m in match_text("De lär sig själva och sig själv.")] == []
    assert "sig" in [m.topic for m in match_text("SIG-verksamheten i Linköping")]


def test_tagging_beats_plain_keyword_matching(index):
    result = evaluate(index)
    assert result["lexical"]["alla"]["f1"] > result["plain keywords"]["alla"]["f1"]
    assert result["lexical"]["alla"]["recall"] > result["plain keywords"]["alla"]["recall"]
    assert sum(1 for _ in result) >= 3


def test_query_expansion():
    exps, rest = expand_query("SSPF Nacka")
    assert exps[0].topic == "sspf" and ("samverkan", "skol", "socialtjänst", "polis", "fritid") in exps[0].alternatives
    assert rest == ("Nacka",)
    exps, _ = expand_query("shortage of foster homes")
    assert exps[0].topic == "familjehem" and exps[0].how == "english"


def test_topics_in_exports(index, conn):
    from rapportsok.query import parse_request
    from rapportsok.web import export_rows

    resp = index.search(parse_request({"q": "SSPF", "mode": "keyword", "limit": 3}))
    assert all("sspf" in r["topics"] for r in export_rows(index, resp))
    row = conn.execute("select topics from table_cells where table_id in (select id from tables where title = "
                       "'Placerade i skyddat boende pga våld i nära relation') limit 1").fetchone()
    assert "skyddat_boende" in row["topics"].split(";")


def test_topic_filter_in_search(index):
    from rapportsok.query import parse_request

    hits = index.search(parse_request({"q": "barn", "topic": "skolfam", "mode": "keyword", "limit": 20})).hits
    assert hits and all(h["chunk_id"] in {r[0] for r in index.conn().execute("select chunk_id from chunk_topics where topic_id='skolfam'")} for h in hits)
