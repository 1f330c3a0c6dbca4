"""Dashboard helpers shared by the pages: access, URL state, cached data, formatting.

Pages stay thin: read filters through ``ui.state``, get frames through
``ui.data`` (cached), draw with the pure builders in ``warehouse.charts``.
"""
