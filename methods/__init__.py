"""The built-in search methods. Each module publishes a `suite.api.MethodEntry`, declared under the
entry-point group `nasrepro.methods` in pyproject.toml (suite.registry reads them from there)."""
