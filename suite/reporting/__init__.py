"""Reporting: the analysed results rendered as Markdown, HTML, CSV and figures (`report`, `leaderboard`,
with `document`, `figures`, `provenance` and the published numbers of `literature`). It computes each result
object once and renders it; it never reruns a search."""
