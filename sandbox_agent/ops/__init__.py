"""Operations: metrics, structured logs, usage and cost, and the `status` command.

Submodules are imported on demand: `stats` is the only one on the daemon's hot path and imports nothing heavy;
`metrics` pulls in prometheus-client (~120 ms) only when `/v1/metrics` is first scraped.
"""
