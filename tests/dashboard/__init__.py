"""The dashboard: pages, access control, end-to-end in a real browser, login."""
