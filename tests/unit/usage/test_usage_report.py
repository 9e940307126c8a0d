"""The usage page: buckets in a contiguous range, results grouped, meters never added up."""

from __future__ import annotations

from typing import Any

from interfaces.http.usage_report import bucket_starts, usage_page

DAY = 1_795_000_000 - 1_795_000_000 % 86400
PROJECT = "ab" * 16


def row(start: int, meter: str, quantity: int, *, model: str = "model_a", project: str = "",
        key: str = "", records: int = 1) -> dict[str, Any]:
    return {"start": start, "meter": meter, "quantity": quantity, "model": model,
            "project_id": project, "api_key_id": key, "records": records}


ROWS = [row(DAY, "inference.input_tokens", 10), row(DAY, "inference.output_tokens", 4),
        row(DAY, "inference.input_tokens", 5, model="model_b", project=PROJECT, records=2),
        row(DAY + 172800, "rl.grader_calls", 9)]


def test_buckets_cover_the_range_from_the_bucket_holding_the_start() -> None:
    assert list(bucket_starts(DAY + 5, DAY + 3 * 86400, "1d")) == [DAY, DAY + 86400,
                                                                   DAY + 172800]
    assert list(bucket_starts(DAY + 59, DAY + 120, "1m")) == [DAY, DAY + 60]


def test_a_range_of_any_length_is_never_built_whole() -> None:
    """`start_time=0&bucket_width=1m` (the fuzzer's) spans 30 million minutes: building them all
    for a page of 60 took 1.2 GB and seconds, past the fuzzer's 10 s timeout under load."""
    starts = bucket_starts(0, 10**15, "1m")  # built whole, this would need 133 TB
    assert len(starts) == 16_666_666_666_667
    assert list(starts[:2]) == [0, 60] and starts[-1] == 10**15 - 40


def test_without_group_by_each_bucket_has_one_result_with_a_total_per_meter() -> None:
    page = usage_page(ROWS, [DAY, DAY + 86400, DAY + 172800], "1d", [], has_more=False)
    first, empty, third = page.data
    [result] = first.results
    assert result.quantities == {"inference.input_tokens": 15, "inference.output_tokens": 4}
    assert result.num_records == 4 and result.model is None
    assert empty.results == [] and (empty.start_time, empty.end_time) == (DAY + 86400,
                                                                          DAY + 172800)
    assert third.results[0].quantities == {"rl.grader_calls": 9}
    assert (page.has_more, page.next_page) == (False, None)


def test_group_by_splits_results_and_shows_public_ids() -> None:
    page = usage_page(ROWS, [DAY], "1d", ["project_id", "model"], has_more=True)
    results = {(r.project_id, r.model): r.quantities for r in page.data[0].results}
    assert results == {
        (None, "model_a"): {"inference.input_tokens": 10, "inference.output_tokens": 4},
        (f"proj_{PROJECT}", "model_b"): {"inference.input_tokens": 5}}
    assert page.next_page == str(DAY + 86400)
