"""Dashboard helpers shared by the pages: access, URL state, cached data, formatting.

Pages stay thin: read filters through ``invlog.dashboard.state``, get frames through
``invlog.dashboard.data`` (cached), draw with the pure builders in ``warehouse.charts``.
"""
