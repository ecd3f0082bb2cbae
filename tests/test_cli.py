"""The fastrerank command line: rerank from a file or stdin, clean one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fastrerank.cli import main


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fastrerank", *args], input=stdin, capture_output=True, text=True)


def test_rerank_lines_from_stdin(tiny_models):
    out = run(
        "rerank",
        "--model",
        str(tiny_models["bert-1"]),
        "--query",
        "capital",
        "--top-n",
        "2",
        stdin="paris is a city\nbananas\ncapital of France\n",
    )
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert len(body["results"]) == 2 and body["meta"]["api_version"]["version"] == "2"


def test_rerank_jsonl_with_rank_fields(tiny_models, tmp_path, capsys):
    f = tmp_path / "docs.jsonl"
    f.write_text('{"Title": "a", "Body": "x"}\n\n{"Title": "b", "Body": "y"}\n')
    assert (
        main(
            ["rerank", "-m", str(tiny_models["bert-1"]), "-q", "q", "--jsonl", "--rank-fields", "Title,Body", "--return-documents", str(f)]
        )
        == 0
    )
    body = json.loads(capsys.readouterr().out)
    assert sorted(r["index"] for r in body["results"]) == [0, 1]
    docs = [{"Title": "a", "Body": "x"}, {"Title": "b", "Body": "y"}]  # the blank line is skipped
    assert all(r["document"] == docs[r["index"]] for r in body["results"])


@pytest.mark.parametrize(
    "args, stdin, needle",
    [
        (["--query", "", "--model", "MODEL"], "a\n", "query is empty"),
        (["--query", "q", "--model", "MODEL", "--top-n", "0"], "a\n", "top_n"),
        (["--query", "q", "--model", "/no/such/model"], "a\n", "not a directory"),
        (["--query", "q", "--model", "MODEL", "--jsonl"], "{not json\n", "not valid JSON"),
        (["--query", "q", "--model", "MODEL", "--rank-fields", "a"], "x\n", "--rank-fields needs --jsonl"),
        (["--query", "q", "--model", "MODEL", "/no/such/file"], "", "cannot read"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tiny_models, args, stdin, needle):
    args = [a.replace("MODEL", str(tiny_models["bert-1"])) for a in args]
    out = run("rerank", *args, stdin=stdin)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastrerank: error:") and needle in lines[0], out.stderr


def test_help_works_without_onnxruntime():
    code = "import sys; sys.modules['onnxruntime'] = None; from fastrerank.cli import main; main(['--help'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "rerank" in out.stdout


def test_missing_extra_is_one_line_naming_it(tmp_path):
    """`fastrerank export` where torch is not installed: the extra to install, not a traceback."""
    code = (
        "import sys; sys.modules['torch'] = None; from fastrerank.cli import main; "
        f"sys.exit(main(['export', {str(tmp_path)!r}, {str(tmp_path / 'out')!r}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "fastrerank[export]" in lines[0] and "torch" in lines[0]
