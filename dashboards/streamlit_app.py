"""Entry point of the Marquee dashboards.

The dashboards only read `serving.duckdb`, the copy of the dbt warehouse published after each
good build (`marquee.layout.DataLayout.serving_db`); they never touch the pipeline or dbt files.

Run from the repository root:

    uv run streamlit run dashboards/streamlit_app.py \
        --server.address 127.0.0.1 --server.port 8501 --server.headless true
"""

from __future__ import annotations

import sys
from pathlib import Path

# Streamlit puts the script's folder (dashboards/) on sys.path, not the working directory, and
# the project is not installed as a package (tool.uv.package = false). Adding the repository
# root makes `marquee` and `dashboards` importable however the app is started.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import streamlit as st  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title="Marquee", layout="wide")

page = st.navigation(
    [
        st.Page(PAGES_DIR / "creators.py", title="Creators", url_path="creators", default=True),
    ]
)
page.run()
