"""The report's HTML: one template with inline CSS, no scripts, no external resources.

Takes the numbers, SVG figures and ``data:`` URIs that ``build`` gathered and lays them out; every
piece of text from the run is escaped.
"""

from __future__ import annotations

import datetime
from collections import Counter
from html import escape

from demoforge.version import __version__

SECTIONS = (
    ("summary", "Run summary"),
    ("failures", "Success and failures"),
    ("lengths", "Demo lengths"),
    ("coverage", "Coverage"),
    ("scenes", "Scene variety"),
    ("videos", "Sample videos"),
)

CSS = """
:root { --ink:#1f2430; --muted:#5f6673; --line:#e3e6ea; --bg:#f5f6f8; --card:#fff; --blue:#2f6fb3;
        --red:#d0573c; --green:#2e9e5b; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; }
header { background:#1f2a3a; color:#fff; padding:28px 0 22px; }
header .wrap > * { margin:0; }
header h1 { font-size:26px; font-weight:650; letter-spacing:.2px; }
header p { color:#b9c3d1; font-size:13px; margin-top:4px; word-break:break-all; }
nav { margin-top:14px; display:flex; flex-wrap:wrap; gap:6px; }
nav a { color:#dfe6f0; text-decoration:none; font-size:13px; padding:3px 10px; border:1px solid #3b4a60;
        border-radius:999px; }
nav a:hover { background:#2d3b50; }
.wrap { max-width:1120px; margin:0 auto; padding:0 24px; }
main { padding:22px 0 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:20px 24px 22px;
          margin:0 0 20px; box-shadow:0 1px 2px rgba(20,30,50,.04); }
h2 { font-size:19px; margin:0 0 4px; }
h3 { font-size:14px; margin:18px 0 6px; color:var(--muted); text-transform:uppercase; letter-spacing:.6px; }
p.lead { color:var(--muted); margin:0 0 14px; font-size:14px; }
.note { background:#fff7e6; border:1px solid #f3dfb3; color:#6b4e16; border-radius:6px; padding:7px 12px;
        font-size:13.5px; margin:10px 0; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(200px,1fr)); gap:12px; margin:6px 0 18px; }
.stat { border:1px solid var(--line); border-radius:8px; padding:12px 14px; background:#fafbfc; }
.stat .k { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.6px; }
.stat .v { font-size:26px; font-weight:650; line-height:1.25; }
.stat .s { font-size:12.5px; color:var(--muted); }
table { border-collapse:collapse; width:100%; font-size:14px; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.5px; font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
table.kv td:first-child { color:var(--muted); width:32%; white-space:nowrap; }
table.kv td { word-break:break-all; }
tbody tr:nth-child(even) { background:#fafbfc; }
.two { display:grid; grid-template-columns:repeat(auto-fit,minmax(440px,1fr)); gap:8px 28px; align-items:start; }
figure { margin:8px 0 4px; }
figure svg { display:block; width:100%; height:auto; max-width:760px; }
figcaption { color:var(--muted); font-size:13px; margin-top:2px; }
.grid { display:grid; gap:14px; }
.thumbs { grid-template-columns:repeat(auto-fill,minmax(190px,1fr)); }
.thumbs figure { margin:0; }
.thumbs img { width:100%; display:block; border-radius:6px; border:1px solid var(--line); }
.videos { grid-template-columns:repeat(auto-fill,minmax(230px,1fr)); }
.clip { border:1px solid var(--line); border-radius:8px; overflow:hidden; background:#fafbfc; }
.clip video { width:100%; display:block; background:#000; aspect-ratio:4/3; }
.clip .meta { padding:8px 12px 10px; font-size:13px; }
.clip .meta b { font-size:14px; }
.badge { display:inline-block; font-size:11.5px; padding:1px 8px; border-radius:999px; margin-left:6px;
         vertical-align:1px; color:#fff; background:var(--blue);
         white-space:nowrap; }
.badge.fail { background:var(--red); }
.reason { color:var(--red); font-weight:600; margin-top:2px; }
.chips { display:flex; flex-wrap:wrap; gap:6px; }
.chip { font-size:12.5px; background:#eef2f7; border-radius:999px; padding:1px 9px; white-space:nowrap; }
.chip b { font-weight:600; }
.muted { color:var(--muted); }
footer { color:var(--muted); font-size:12.5px; text-align:center; padding:0 0 30px; }
"""


def render(
    *, title: str, folder: str, summary: dict, failures: dict, lengths: str, lengths_note: str, coverage: dict,
    scenes: dict, videos: list[dict],
) -> str:
    """The whole page as one string."""
    nav = "".join(f'<a href="#{sid}">{escape(label)}</a>' for sid, label in SECTIONS)
    body = "".join((
        _section("summary", _summary(summary)),
        _section("failures", _failures(failures)),
        _section("lengths", _lengths(lengths, lengths_note)),
        _section("coverage", _coverage(coverage)),
        _section("scenes", _scenes(scenes)),
        _section("videos", _videos(videos)),
    ))
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>demoforge report: {escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header><div class="wrap">
<h1>demoforge report: {escape(title)}</h1>
<p>{escape(folder)}</p>
<nav>{nav}</nav>
</div></header>
<main class="wrap">
{body}
</main>
<footer>Made by demoforge {escape(__version__)} on {stamp}. One self-contained file: plots are inline SVG, videos
are embedded MP4 (H.264) rendered from the stored states.</footer>
</body>
</html>
"""


def _section(sid: str, inner: str) -> str:
    return f'<section id="{sid}">\n<h2>{escape(dict(SECTIONS)[sid])}</h2>\n{inner}\n</section>\n'


def _table(headers: list[str], rows: list[list[object]], numeric: set[int] = frozenset(), cls: str = "") -> str:
    def cell(tag: str, i: int, value: object) -> str:
        css = ' class="num"' if i in numeric else ""
        return f"<{tag}{css}>{escape(str(value))}</{tag}>"

    head = "<tr>" + "".join(cell("th", i, h) for i, h in enumerate(headers)) + "</tr>" if headers else ""
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<table{f" class={cls!r}" if cls else ""}><thead>{head}</thead><tbody>{body}</tbody></table>'


def _figure(svg: str, caption: str = "") -> str:
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{cap}</figure>"


def _notes(notes: list[str]) -> str:
    return "".join(f'<div class="note">{escape(n)}</div>' for n in notes)


def _summary(s: dict) -> str:
    cards = "".join(
        f'<div class="stat"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div>'
        f'<div class="s">{escape(sub)}</div></div>' for k, v, sub in s["cards"]
    )
    return (_notes(s.get("notes", [])) + f'<div class="cards">{cards}</div>'
            + _table([], [list(r) for r in s["rows"]], cls="kv"))


def _failures(f: dict) -> str:
    fails, attempts = f["failures"], f["attempts"]
    total = sum(c for _, c, _ in fails.reasons)
    lead = (f"{total:,} of {attempts:,} attempts failed. Each failure stops at the first subtask whose "
            "termination signal was not on at the end of its segment; physics and time-limit failures are "
            "counted apart." if total else f"No failed attempts: all {attempts:,} attempts succeeded.")
    out = [f'<p class="lead">{escape(lead)}</p>']
    if f["reasons_svg"]:
        out.append(_figure(f["reasons_svg"], "Red: stopped at a subtask. Grey: not tied to a subtask (physics "
                                             "unstable, episode too long)."))
    if fails.reasons:
        out.append(_table(
            ["reason", "stopped at subtask", "attempts", "% of attempts"],
            [[r, s or "\u2014 (not a subtask)", f"{c:,}", f"{100 * c / max(attempts, 1):.1f}%"]
             for r, c, s in fails.reasons],
            numeric={2, 3},
        ))
    if f["funnel_svg"]:
        out.append("<h3>By subtask, in execution order</h3>")
        out.append(_figure(f["funnel_svg"], "Subtasks top to bottom in execution order. Failures not tied to a "
                                            "subtask are left out of every bar; the last bar's passes are the kept "
                                            "demos."))
    if fails.funnel:
        out.append(_table(
            ["subtask", "reached", "failed here", "passed", "pass rate"],
            [[n, f"{r:,}", f"{x:,}", f"{r - x:,}", f"{100 * (r - x) / r:.1f}%" if r else "\u2014"]
             for n, r, x in fails.funnel],
            numeric={1, 2, 3, 4},
        ))
        if fails.other:
            out.append(f'<p class="muted">{fails.other:,} failed attempts (physics unstable, episode too long, ...) '
                       "are not attributed to a subtask and are not counted as reaching any.</p>")
    return "\n".join(out)


def _lengths(svg: str, note: str) -> str:
    lead = "Episode length in control steps of every kept demo and every stored failed attempt."
    return f'<p class="lead">{escape(lead)}</p>' + _figure(svg, note)


def _coverage(c: dict) -> str:
    lead = ("Where the task objects started (t = 0, from datagen_info/object_poses), seen from above. Source "
            "demos are large outlined markers; generated demos should spread over the dashed reset regions.")
    out = f'<p class="lead">{escape(lead)}</p>' + _notes(c["notes"])
    if c["svg"]:
        out += _figure(c["svg"], "Marker shape: object. Colour: green source, blue kept, red failed.")
    return out


def _scenes(s: dict) -> str:
    if s["family"] == "default":
        lead = ("Scenes were fixed: family \u201cdefault\u201d, every attempt used the same tabletop; only the "
                "object placements vary. First frames of some kept demos:")
    else:
        lead = (f"Every attempt sampled its own scene from the \u201c{s['family']}\u201d family: "
                f"{s['unique']:,} distinct scenes among {s['demos']:,} demos. First frames of some demos:")
    out = [f'<p class="lead">{escape(lead)}</p>']
    if s["thumbs"]:
        cells = "".join(f'<figure><img alt="{escape(n)} first frame" src="{uri}"><figcaption>{escape(n)}'
                        "</figcaption></figure>" for n, uri in s["thumbs"])
        out.append(f'<div class="grid thumbs">{cells}</div>')
    else:
        out.append('<p class="muted">No demos to show.</p>')
    if s["counts"]:
        out.append("<h3>What varied (demos per value; distractor and object shapes: per item)</h3>")
        rows = "".join(f"<tr><td>{escape(axis)}</td><td>{_chips(counts)}</td></tr>" for axis, counts in s["counts"])
        out.append(f'<table class="kv"><tbody>{rows}</tbody></table>')
    return "\n".join(out)


def _chips(counts: Counter) -> str:
    return '<div class="chips">' + "".join(
        f'<span class="chip">{escape(str(k))} <b>\u00d7{v:,}</b></span>' for k, v in counts.most_common()) + "</div>"


def _videos(videos: list[dict]) -> str:
    if not videos:
        return '<p class="muted">No demos to show (or num_videos = 0).</p>'
    lead = ("Rendered from the stored states (20 Hz, real time). Sources: which source demo each subtask's "
            "segment was taken from.")
    cards = []
    for v in videos:
        badge = ('<span class="badge fail">failed</span>' if v["reason"] else '<span class="badge">kept</span>')
        reason = f'<div class="reason">reason: {escape(v["reason"])}</div>' if v["reason"] else ""
        sources = "".join(f"<div>{escape(n)} \u2190 source #{escape(str(i))}</div>" for n, i in v["sources"])
        attempt = f", attempt {v['attempt']}" if v.get("attempt") is not None else ""
        cards.append(
            f'<div class="clip" data-demo="{escape(v["name"])}" data-file="{escape(v["file"])}" '
            f'data-length="{v["length"]}"><video controls muted loop playsinline autoplay preload="auto" '
            f'src="{v["uri"]}"></video><div class="meta"><b>{escape(v["name"])}</b>{badge}{reason}'
            f'<div class="muted">{escape(v["file"])}{escape(attempt)} \u00b7 {v["length"]} steps '
            f"({v['length'] / 20:.1f} s)</div>{sources}</div></div>"
        )
    return f'<p class="lead">{escape(lead)}</p><div class="grid videos">{"".join(cards)}</div>'
