"""`seqcls serve`: a trained run behind HTTP (FastAPI on uvicorn), with dynamic batching.

- settings: the server's limits and knobs (`ServeSettings`), checked before anything starts.
- batching: concurrent requests merged into one model call (`Batcher`).
- app: the FastAPI application: /predict, /healthz, /readyz, /metadata, /metrics, /docs.
- server: binding the socket, running uvicorn (one process, or --workers N), draining on
  SIGTERM/SIGINT.

FastAPI, uvicorn and prometheus-client come with `pip install 'seqcls[serve]'`.
"""
