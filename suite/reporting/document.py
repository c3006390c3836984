"""A report as a list of blocks, rendered twice: Markdown (figures as files beside it) and one self-contained
HTML page (figures inlined as base64 PNG, styles inline, no scripts, nothing fetched)."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str  # plain text; `code` spans are kept as code


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame  # already formatted: every cell is shown as str(cell)
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    path: Path
    caption: str


Block = Heading | Paragraph | Bullets | Table | Figure


def to_markdown(blocks: list[Block], title: str) -> str:
    lines = [f"# {title}", ""]
    for block in blocks:
        match block:
            case Heading(text, level):
                lines += ["#" * level + " " + text, ""]
            case Paragraph(text):
                lines += [text, ""]
            case Bullets(items):
                lines += [f"- {item}" for item in items] + [""]
            case Table(frame, caption):
                lines += ([f"*{caption}*", ""] if caption else []) + [_markdown_table(frame), ""]
            case Figure(path, caption):
                lines += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def to_html(blocks: list[Block], title: str) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for block in blocks:
        match block:
            case Heading(text, level):
                body.append(f"<h{level}>{_inline(text)}</h{level}>")
            case Paragraph(text):
                body.append(f"<p>{_inline(text)}</p>")
            case Bullets(items):
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            case Table(frame, caption):
                body.append(_html_table(frame, caption))
            case Figure(path, caption):
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                alt = html.escape(caption, quote=True)
                body.append(
                    f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
                    f"<figcaption>{_inline(caption)}</figcaption></figure>"
                )
    return _PAGE.format(title=html.escape(title), body="\n".join(body))


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _html_table(frame: pd.DataFrame, caption: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    cap = f"<caption>{_inline(caption)}</caption>" if caption else ""
    table = f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 78rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }}
caption {{ text-align: left; font-style: italic; padding-bottom: 0.3rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; white-space: nowrap; }}
th {{ background: #f2f2f2; }}
.scroll {{ overflow-x: auto; }}
figure {{ margin: 1rem 0; }}
img {{ max-width: 100%; }}
figcaption {{ font-style: italic; font-size: 0.9rem; }}
code {{ background: #f4f4f4; padding: 0 0.2rem; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
