"""Cross-context checks at create: the files exist, are valid and fit; the model trains.

Each problem is a 400 naming the request field, and nothing is created.
"""

from __future__ import annotations

from uuid import UUID

from application.training.ports import (
    DatasetCatalog,
    ModelCatalog,
    PinnedDataset,
    TrainableModel,
)
from domain.shared.errors import NotFoundError, ValidationFailedError

# method -> (dataset purpose, dataset format) the method trains on.
FITS: dict[str, tuple[str, str]] = {
    "supervised": ("fine_tuning", "chat"),
    "dpo": ("fine_tuning", "preference"),
    "rl": ("rl", "prompt"),
}


def fitting_dataset(catalog: DatasetCatalog, org_id: UUID, dataset_id: UUID, *, method: str,
                    param: str) -> PinnedDataset:
    try:
        dataset = catalog.pinned(org_id, dataset_id)
    except NotFoundError:
        raise ValidationFailedError(f"No such dataset for '{param}'.", param=param) from None
    if dataset.status != "valid":
        raise ValidationFailedError(
            f"The dataset in '{param}' is {dataset.status}; only a validated dataset can be "
            "used.", param=param)
    purpose, data_format = FITS[method]
    if (dataset.purpose, dataset.format) != (purpose, data_format):
        raise ValidationFailedError(
            f"The dataset in '{param}' is a {dataset.purpose} {dataset.format} dataset; "
            f"{method} needs a {purpose} {data_format} dataset.", param=param)
    return dataset


def trainable_model(catalog: ModelCatalog, org_id: UUID, model: str, *,
                    method: str) -> TrainableModel:
    try:
        found = catalog.trainable(org_id, model)
    except NotFoundError:
        raise ValidationFailedError(f"No such model: {model!r}.", param="model") from None
    if method not in found.capabilities:
        raise ValidationFailedError(f"Model {model!r} cannot be trained with {method}.",
                                    param="model")
    return found
