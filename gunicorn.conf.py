"""Production settings for serving the board: gunicorn -c gunicorn.conf.py app:app"""
import os

import jieba

# Two cores here; sync workers, one request each, are the simplest safe choice for Flask.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
bind = os.environ.get("BIND", "127.0.0.1:8000")
timeout = 30
# The app (and jieba's dictionary, below) load once in the master and are shared by the
# forked workers: faster start, less memory per worker.
preload_app = True
accesslog = None
# Requests larger than this are refused before Flask sees them.
limit_request_line = 8190

jieba.initialize()
