"""Bad corpus files give a clear error naming the file (and line), or a documented fallback."""

import pytest

from rapportsok.errors import CorpusError
from rapportsok.textio import read_report

KALMAR = "000_f034ae467e1d69b6.txt"


def test_empty_file_is_refused(tmp_path):
    p = tmp_path / "tom.txt"
    p.write_text("  \n\n")
    with pytest.raises(CorpusError, match=r"tom\.txt: file is empty"):
        read_report(p)


def test_binary_file_is_refused(tmp_path):
    p = tmp_path / "bild.txt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    with pytest.raises(CorpusError, match=r"bild\.txt: file looks binary"):
        read_report(p)


def test_cp1252_file_is_decoded_with_a_warning_naming_the_line(tmp_path, corpus_dir):
    text = (corpus_dir / KALMAR).read_text(encoding="utf-8")
    p = tmp_path / "latin.txt"
    p.write_bytes(text.encode("cp1252", errors="replace"))
    src = read_report(p)
    assert src.encoding == "cp1252"
    assert "Förslag till beslut" in src.text
    first_non_ascii = next(i for i, ch in enumerate(text) if ord(ch) > 127)
    first_bad_line = text.count("\n", 0, first_non_ascii) + 1
    assert src.warnings and f"latin.txt:{first_bad_line}:" in src.warnings[0]


def test_bom_and_crlf_give_the_same_text_as_the_original(tmp_path, corpus_dir):
    original = read_report(corpus_dir / KALMAR).text
    p = tmp_path / "windows.txt"
    p.write_bytes(b"\xef\xbb\xbf" + original.replace("\n", "\r\n").encode("utf-8"))
    assert read_report(p).text == original


def test_huge_file_is_refused_before_reading(tmp_path):
    p = tmp_path / "enorm.txt"
    with open(p, "wb") as f:
        f.truncate(100 * 1024 * 1024)  # 100 MB
    with pytest.raises(CorpusError, match=r"enorm\.txt: file is 100\.0 MiB; the limit is 20\.0 MiB"):
        read_report(p)


def test_a_very_long_line_is_read_with_a_warning_naming_it(tmp_path):
    p = tmp_path / "lang.txt"
    p.write_text("Månadsrapport\n\n" + "a" * 200_000 + "\nslut\n", encoding="utf-8")
    src = read_report(p)
    assert any("lang.txt:3: a line of 200,000 characters" in w for w in src.warnings)
