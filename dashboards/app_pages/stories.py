"""Stories page (being built)."""

from __future__ import annotations

import streamlit as st

from dashboards import components

st.title("Stories")
components.require_data()
st.info("This page is being built.")
