"""Checks of a method or a run predictor, built-in or plugin, against the protocol that makes comparisons
fair (`nasrepro check-method`, `nasrepro check-predictor`): protocol.py runs a method's and holds what both
share, predictor.py a predictor's (and is the child process of its determinism check), watch.py watches a
method through the runner's loop (and is the child process of its determinism check), reach.py walks what a
method or predictor can reach."""
