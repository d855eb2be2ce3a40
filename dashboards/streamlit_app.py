"""Entry point of the Marquee dashboards: navigation, the shared filters, then the page.

The pages read `serving.duckdb`, the copy of the dbt warehouse published after each build
(`marquee.layout.DataLayout.serving_db`), through `dashboards.data`; the Live now page also
reads the minute-level tables the pipeline commits to the lake, through `dashboards.lake`.
The filters in the sidebar are kept in the URL query string (`dashboards.filters`).

Run from the repository root:

    uv run streamlit run dashboards/streamlit_app.py \
        --server.address 127.0.0.1 --server.port 8501 --server.headless true
"""

from __future__ import annotations

import streamlit as st

from dashboards import data, filters
from dashboards.navigation import HOME, PAGES

st.set_page_config(page_title="Marquee", layout="wide")

pages = {
    section: [st.Page(spec.path, title=spec.title, url_path=spec.url_path) for spec in specs]
    for section, specs in PAGES.items()
}
home = next(page for section in pages.values() for page in section if page.url_path == HOME)


def open_home() -> None:
    """`/` opens the home page by its own URL, so `/creators` is a real address (Streamlit
    serves its default page only at `/`); the query string goes along."""
    st.switch_page(home, query_params=st.query_params.to_dict())


page = st.navigation(
    {"": [st.Page(open_home, title="Marquee", default=True, visibility="hidden")], **pages}
)
try:
    status: data.ServingStatus | None = data.serving_status()
except data.ServingUnavailableError:
    status = None  # the page shows the error through components.require_data()
if status is not None and status.state == "ready":
    filters.render_sidebar(status)
page.run()
