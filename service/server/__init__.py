"""Processes and uvicorn: one server per process on a shared socket, its options, and the guarded
HTTP protocol (uvicorn's private API, in guarded_protocol.py alone)."""
