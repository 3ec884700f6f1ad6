"""Serving: one jupyter_server with Voila (clinicians) and JupyterLab (analysts) behind login."""
