"""Streamlit dashboards of Marquee: read-only views over the published serving warehouse.

`streamlit_app.py` is the entry point, `app_pages/` holds one script per page, `data.py` is the
only module that touches DuckDB, and `components.py` holds the pieces pages share.
"""
