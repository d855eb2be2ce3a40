"""Page scripts of the dashboards; `streamlit_app.py` runs them through `st.navigation`."""
