"""The model as the service runs it: the contract read from the file, sessions and CPU plan, the
feed, the predictor, the start-up self-test, micro-batching with deadlines. Numpy arrays in and
out: no HTTP here."""
