"""What the codes are good for beyond reconstruction ("feature extraction"): classifiers fitted
on train-set codes and scored on test-set codes, and a 2-D map of the test codes.

- ``test/probe_accuracy``: multinomial logistic regression on standardised codes (a linear probe);
- ``test/knn_accuracy``: the majority label of the 5 nearest train codes (Euclidean).
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

NEIGHBOURS = 5


def probe_accuracies(train_codes: np.ndarray, train_labels: np.ndarray, test_codes: np.ndarray,
                     test_labels: np.ndarray, val: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, float]:
    """Both accuracies; none where the train split holds one class (an anomaly run left the other out).
    ``val`` (codes, labels): the linear probe's accuracy on the validation split as well,
    ``val/probe_accuracy``, which a tuned sweep selects for features on (the test split never), and
    the number of validation samples it is over, ``val/probe_samples``."""
    if len(np.unique(train_labels)) < 2:
        return {}
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    linear.fit(train_codes, train_labels)
    neighbours = KNeighborsClassifier(n_neighbors=NEIGHBOURS).fit(train_codes, train_labels)
    scores = {"test/probe_accuracy": float(linear.score(test_codes, test_labels)),
              "test/knn_accuracy": float(neighbours.score(test_codes, test_labels))}
    if val is not None and len(val[1]):
        scores["val/probe_accuracy"] = float(linear.score(*val))
        scores["val/probe_samples"] = float(len(val[1]))  # its standard error's n (aebench.sweep.tuning)
    return scores


def code_map(codes: np.ndarray) -> np.ndarray:
    """(N, 2): the codes projected on their first two principal components (zeros pad a 1-D code)."""
    if codes.shape[1] < 2:
        return np.hstack([codes, np.zeros_like(codes)])
    return PCA(n_components=2, svd_solver="full").fit_transform(codes)
