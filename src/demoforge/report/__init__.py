"""``demoforge report``: one self-contained HTML page about a generation run (docs/report.md).

    from demoforge.report import build_report
    build_report(Path("runs/stack"))          # -> runs/stack/report.html
"""

from demoforge.report.build import build_report

__all__ = ["build_report"]
