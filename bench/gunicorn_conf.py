"""gunicorn settings for the benchmark (and an example for production)."""


def worker_exit(server, worker):
    # Buffered activity rows are written before a worker exits (atexit covers it too).
    from apitokens.activity import activity_flush

    activity_flush()
