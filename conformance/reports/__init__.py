"""Verdicts and the reports made of them: terminal grid, JSON, Markdown, HTML, JUnit, baselines."""
