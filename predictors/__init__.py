"""The built-in run predictors (each a `suite.api.PredictorEntry`, declared under the entry-point group
`nasrepro.predictors` in pyproject.toml), their encodings, and the predictor benchmark."""
