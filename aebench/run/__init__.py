"""One run: the rules that refuse a combination, the plan that builds it, layer-wise pretraining, and
the fit, test and tracking of the run."""
