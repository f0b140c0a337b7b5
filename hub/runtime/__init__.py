"""The runtime every flow runs on: the one Pipeline, its journal and dead letters, the
fixes to faust's consumer and producer, local state, lag and diagnostics."""
