"""Streamlit helpers shared by the pages: page context, filters, sections, sidebar."""
