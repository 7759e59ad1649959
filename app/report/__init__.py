"""The session report: one self-contained HTML page beside a recording (`polyp-report`).

page.py writes it (build_report, write_report); session.py reads a recording; timeline.py and
thumbnails.py make its pictures; cli.py is the command. Nothing heavy is imported here, so
`polyp-report --help` stays instant.
"""
