"""HTTP plumbing both protocols share: error bodies, body reading, form data, the request's
context and access log, the metrics, CORS and disconnect middleware, the process's log."""
