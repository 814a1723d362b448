"""The trained autoencoder as an MLflow model (the pytorch flavour), beside aebench's weights-only
``model.pt``: the MLflow UI lists it in the run's Models column, and
``mlflow.pytorch.load_model(f"runs:/{run_id}/model")`` gives back a module that reconstructs a batch.

It is saved in MLflow's "pt2" format (``torch.export``: a traced graph, loaded without unpickling
any Python object, so as safe to load as ``torch.load(..., weights_only=True)``), with a signature
and an input example of validation samples as the model takes them, the batch dimension dynamic.
"""
from __future__ import annotations

import copy
import warnings

import torch

from aebench.tracking.store import TrackingStore

NAME = "model"
FAILURE_TAG = "aebench.mlflow_model_error"


def log_mlflow_model(store: TrackingStore, run_id: str, model: torch.nn.Module, example: torch.Tensor) -> str | None:
    """Log ``model`` (its ``forward``: input -> reconstruction) under the run; returns the model's URI, or
    None when ``torch.export`` cannot trace it (the reason goes into the run's tag FAILURE_TAG; the run
    keeps its ``model.pt``)."""
    import mlflow
    import mlflow.pytorch
    from mlflow.models import Model, infer_signature

    module = copy.deepcopy(model).cpu().eval()  # exported on the CPU: the example is a CPU array
    example = example.detach().float().cpu()
    with torch.no_grad():
        signature = infer_signature(example.numpy(), module(example).numpy())
    # Model.log reads the store from the process's tracking URI: set it for the call, then put back what
    # was there (nothing, where nothing was: set_tracking_uri(None) clears it and its environment variable)
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(store.uri)
    logged = None
    try:
        # created here, in the run's experiment: Model.log alone creates it in the process's active
        # experiment, where the run's Models column does not look
        params = {key: str(value) for key, value in store.client.get_run(run_id).data.params.items()}
        logged = store.client.create_logged_model(store.experiment_id, name=NAME, source_run_id=run_id, params=params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = Model.log(artifact_path=None, name=NAME, flavor=mlflow.pytorch, run_id=run_id,
                             model_id=logged.model_id, pytorch_model=module, input_example=example.numpy(),
                             signature=signature, serialization_format="pt2",
                             pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"])
    except Exception as error:  # torch.export's (and an older server's) errors have no common base
        _failed(store, logged)
        store.client.set_tag(run_id, FAILURE_TAG, f"{type(error).__name__}: {error}"[:500])
        return None
    except BaseException:  # interrupted: the model is not left PENDING
        _failed(store, logged)
        raise
    finally:
        mlflow.set_tracking_uri(previous)
    return info.model_uri


def _failed(store: TrackingStore, logged) -> None:
    if logged is not None:
        from mlflow.entities import LoggedModelStatus

        store.client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
