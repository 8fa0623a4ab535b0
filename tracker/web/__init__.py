"""Server-rendered web pages (FastAPI + Jinja2), Simplified Chinese, WCAG 2.1 AA."""
