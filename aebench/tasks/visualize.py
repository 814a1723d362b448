"""Visualisation: a 2-D code, and how faithfully it keeps each test sample's neighbours.

``test/trustworthiness`` (Venna & Kaski 2001, scikit-learn, 5 neighbours) of the test codes
against the test inputs, and ``test/pca_trustworthiness`` of the inputs' first two principal
components (fitted on the train split); the artifact ``visualization.png`` plots the codes,
coloured by label. Set ``model.code_dim=2`` (``task=visualize`` does so).
"""
from __future__ import annotations

import io

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness

from aebench.needs import Need
from aebench.ops.chunks import apply_in_chunks, device_of
from aebench.tasks.base import Task

NEIGHBOURS = 5
CODE_SMALLER_THAN_INPUT = Need(
    "visualize needs a code smaller than the input", lambda f: not f.code_larger_than_input, "model",
    lambda f: f.model, lambda f: f"a model with a 2-D code for task=visualize: model={f.model} has a code larger "
                                 "than its input")
TWO_D_CODE = Need("visualize needs a 2-D code", lambda f: f.code_dim == 2, "model.code_dim", lambda f: f.code_dim,
                  lambda f: "2 for task=visualize (it plots the code itself)")


def scatter_png(points: np.ndarray, labels: np.ndarray | None, title: str) -> bytes:
    import matplotlib  # imported here: 0.9 s measured, and only this task draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 5))
    if labels is not None:
        drawn = axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=6)
        axis.legend(*drawn.legend_elements(), fontsize=6, title="label", title_fontsize=7)
    else:
        axis.scatter(points[:, 0], points[:, 1], s=6)
    axis.set_title(title, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


class Visualize(Task):
    name = "visualize"
    primary_metrics = ("test/trustworthiness",)
    headline = ("test/trustworthiness", "test/pca_trustworthiness")

    def needs(self) -> tuple[Need, ...]:
        return (*super().needs(), CODE_SMALLER_THAN_INPUT, TWO_D_CODE)

    def evaluate(self, model, datamodule):
        train_x, test_x = datamodule.inputs("train"), datamodule.inputs("test")
        codes = apply_in_chunks(model.code_of, test_x, device=device_of(model)).numpy()
        flat_test = test_x.flatten(1).numpy()
        projected = PCA(n_components=2, svd_solver="full").fit(train_x.flatten(1).numpy()).transform(flat_test)
        labels = datamodule.labels("test")
        metrics = {"test/trustworthiness": float(trustworthiness(flat_test, codes, n_neighbors=NEIGHBOURS)),
                   "test/pca_trustworthiness": float(trustworthiness(flat_test, projected, n_neighbors=NEIGHBOURS))}
        title = f"{model.variant} codes of the test set (trustworthiness {metrics['test/trustworthiness']:.3f})"
        png = scatter_png(codes, None if labels is None else labels.numpy(), title)
        return metrics, {"visualization.png": png}
