"""Minutes (biên bản): drafted from the meeting record, rendered to PDF, PAdES-signed, verified.

Layout and rules: docs/minutes.md. No web imports here; web/ calls these modules and runs the
CPU-heavy ones (rendering, signing, verification) in executors.
"""
